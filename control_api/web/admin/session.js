// The signed-in user: the bearer token (kept for this browser tab only, until it expires) and what
// /api/v1/me said. An expired token counts as none, so the router sends the user to the login page.
import { reactive } from 'vue'

const KEY = 'forecourt.admin.token'

function stored() {
  try {
    const { token, expiresAt } = JSON.parse(sessionStorage.getItem(KEY) || '{}')
    return token && expiresAt > Date.now() ? token : ''
  } catch {
    return ''
  }
}

export const session = reactive({
  token: stored(),
  me: null, // { user, roles, permissions, stations, menus }
})

export function signIn(token, expiresInSeconds) {
  session.token = token
  sessionStorage.setItem(KEY, JSON.stringify({ token, expiresAt: Date.now() + expiresInSeconds * 1000 }))
}

export function signOut() {
  session.token = ''
  session.me = null
  sessionStorage.removeItem(KEY)
}

export function signedIn() {
  if (session.token && !stored()) signOut()
  return Boolean(session.token)
}

export function can(permission) {
  return !permission || Boolean(session.me?.permissions?.includes(permission))
}
