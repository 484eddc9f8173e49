// The back office's pages: one line per page. `path` is what a menu entry from /api/v1/me points at,
// `permission` what the user must hold to open it (the menu the server sends is already filtered;
// this guards a typed-in address too). See docs/how-to/add-a-page.md.
export default [
  { path: '/equipment/devices', permission: 'device:read', component: () => import('./equipment/Devices.vue') },
]
