// The back office's pages: one line per page. `path` is what a menu entry from /api/v1/me points at (the
// same path as in control_api/menus.py: a test keeps the two equal), `permission` what the user must hold
// to open it (the menu the server sends is already filtered; this guards a typed-in address too).
// See docs/how-to/add-a-page.md.
export default [
  { path: '/operations/stations', permission: 'station:read', component: () => import('./operations/Stations.vue') },
  { path: '/sales/shifts', permission: 'shift:read', component: () => import('./sales/Shifts.vue') },
  { path: '/prices/list', permission: 'price:read', component: () => import('./prices/PriceList.vue') },
  { path: '/prices/change', permission: 'price:write', component: () => import('./prices/ChangeRequest.vue') },
  { path: '/prices/calendar', permission: 'price:read', component: () => import('./prices/Calendar.vue') },
  { path: '/prices/changes', permission: 'price:read', component: () => import('./prices/Changes.vue') },
  { path: '/prices/policy', permission: 'price:rule', component: () => import('./prices/Policy.vue') },
  { path: '/prices/board', permission: 'price:read', component: () => import('./prices/BoardLauncher.vue') },
  { path: '/inventory/reconciliation', permission: 'inventory:read', component: () => import('./inventory/Reconciliation.vue') },
  { path: '/inventory/deliveries', permission: 'inventory:read', component: () => import('./inventory/Deliveries.vue') },
  { path: '/inventory/leak-tests', permission: 'inventory:read', component: () => import('./inventory/LeakTests.vue') },
  { path: '/cards/list', permission: 'card:read', component: () => import('./cards/Cards.vue') },
  { path: '/cards/detail', permission: 'card:read', component: () => import('./cards/CardDetail.vue') },
  { path: '/cards/types', permission: 'card:read', component: () => import('./cards/CardTypes.vue') },
  { path: '/finance/accounts', permission: 'ledger:read', component: () => import('./finance/Accounts.vue') },
  { path: '/equipment/devices', permission: 'device:read', component: () => import('./equipment/Devices.vue') },
  { path: '/equipment/work-orders', permission: 'workorder:read', component: () => import('./equipment/WorkOrders.vue') },
  { path: '/alarms/console', permission: 'alarm:read', component: () => import('./alarms/Console.vue') },
  { path: '/alarms/journal', permission: 'alarm:read', component: () => import('./alarms/Journal.vue') },
  { path: '/alarms/kpis', permission: 'alarm:read', component: () => import('./alarms/Kpis.vue') },
  { path: '/alarms/rules', permission: 'alarm:configure', component: () => import('./alarms/Rules.vue') },
  { path: '/alarms/routing', permission: 'alarm:configure', component: () => import('./alarms/Routing.vue') },
  { path: '/system/users', permission: 'user:read', component: () => import('./system/Users.vue') },
  { path: '/system/roles', permission: 'role:read', component: () => import('./system/Roles.vue') },
  { path: '/system/approvals', permission: 'approval:read', component: () => import('./system/Approvals.vue') },
  { path: '/system/audit', permission: 'audit:read', component: () => import('./system/Audit.vue') },
  { path: '/system/login-log', permission: 'loginlog:read', component: () => import('./system/LoginLog.vue') },
]
