// The customer's session: its token in this phone's storage, under a key of its own (never the staff apps').
import { reactive } from 'vue'

const KEY = 'forecourt.h5.session'
const saved = JSON.parse(localStorage.getItem(KEY) || 'null') || {}

export const session = reactive({ token: saved.token || '', memberNo: saved.memberNo || '', only: saved.only || null })

export function remember(answer) {
  Object.assign(session, { token: answer.access_token, memberNo: answer.member_no, only: answer.only || null })
  localStorage.setItem(KEY, JSON.stringify({ token: session.token, memberNo: session.memberNo, only: session.only }))
}

export function forget() {
  Object.assign(session, { token: '', memberNo: '', only: null })
  localStorage.removeItem(KEY)
}
