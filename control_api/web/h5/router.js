// The H5's pages (history mode under /h5/: the API answers index.html for each). A page that needs the whole H5
// sends a visitor without a phone login to /login; a link session sees only its one confirmation.
import { createRouter, createWebHistory } from 'vue-router'
import { session } from './session'
import Confirm from './views/Confirm.vue'
import Link from './views/Link.vue'
import Login from './views/Login.vue'
import Orders from './views/Orders.vue'
import Pending from './views/Pending.vue'
import Settings from './views/Settings.vue'

export const router = createRouter({
  history: createWebHistory('/h5/'),
  routes: [
    { path: '/', name: 'pending', component: Pending },
    { path: '/orders', name: 'orders', component: Orders },
    { path: '/settings', name: 'settings', component: Settings },
    { path: '/confirm/:id', name: 'confirm', component: Confirm, meta: { link: true } },
    { path: '/c/:code', name: 'link', component: Link, meta: { open: true } },
    { path: '/login', name: 'login', component: Login, meta: { open: true } },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

router.beforeEach((to) => {
  if (to.meta.open) return true
  if (!session.token) return { name: 'login', query: { next: to.fullPath } }
  if (session.only && !(to.meta.link && to.params.id === session.only)) return { name: 'login', query: { next: to.fullPath } }
  return true
})
