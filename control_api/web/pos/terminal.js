// This machine's POS terminal id (e.g. pos-1), kept in localStorage: every lock and payment names it.
import { reactive } from 'vue'

const KEY = 'forecourt.pos.terminal'
export const TERMINAL = /^[a-z0-9-]{1,32}$/

export const terminal = reactive({ id: TERMINAL.test(localStorage.getItem(KEY) || '') ? localStorage.getItem(KEY) : '' })

export function setTerminal(id) {
  localStorage.setItem(KEY, id)
  terminal.id = id
}
