// Routes: /login is public; every other page sits inside the frame and needs a token (no token →
// login, then back to where the user was going). Page routes come from pages/index.js.
import { createRouter, createWebHistory } from 'vue-router'
import { api, whenUnauthorized } from './api'
import pages from './pages'
import { can, session, signedIn, signOut } from './session'
import Frame from './views/Frame.vue'
import Home from './views/Home.vue'
import Login from './views/Login.vue'
import NotFound from './views/NotFound.vue'

const router = createRouter({
  history: createWebHistory('/admin/'),
  routes: [
    { path: '/login', name: 'login', component: Login, meta: { public: true } },
    // the forecourt price board: full screen, outside the frame; it signs in on its own (pages/prices/Board.vue)
    { path: '/board/:station?', name: 'board', component: () => import('./pages/prices/Board.vue'), meta: { public: true } },
    {
      path: '/',
      component: Frame,
      children: [
        { path: '', name: 'home', component: Home },
        ...pages.map((page) => ({ path: page.path, component: page.component, meta: { permission: page.permission } })),
        { path: ':rest(.*)*', name: 'not-found', component: NotFound },
      ],
    },
  ],
})

export async function loadMe() {
  session.me = await api('/api/v1/me')
}

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  if (!signedIn()) return { name: 'login', query: { redirect: to.fullPath } }
  if (!session.me) {
    try {
      await loadMe()
    } catch {
      signOut()
      return { name: 'login', query: { redirect: to.fullPath } }
    }
  }
  if (!can(to.meta.permission)) return { name: 'not-found', params: { rest: to.path.slice(1).split('/') }, query: { forbidden: '1' } }
  return true
})

whenUnauthorized(() => {
  signOut()
  router.push({ name: 'login', query: { redirect: router.currentRoute.value.fullPath, expired: '1' } })
})

export default router
