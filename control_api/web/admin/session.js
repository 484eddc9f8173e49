// The signed-in user: the bearer token (kept for this browser tab only) and what /api/v1/me said.
import { reactive } from 'vue'

const KEY = 'forecourt.admin.token'

export const session = reactive({
  token: sessionStorage.getItem(KEY) || '',
  me: null, // { user, roles, permissions, stations, menus }
})

export function signIn(token) {
  session.token = token
  sessionStorage.setItem(KEY, token)
}

export function signOut() {
  session.token = ''
  session.me = null
  sessionStorage.removeItem(KEY)
}

export function can(permission) {
  return !permission || Boolean(session.me?.permissions?.includes(permission))
}
