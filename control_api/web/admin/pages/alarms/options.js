// Select options and formats the alarm pages share (labels from strings.js).
import { session } from '../../session'
import t from '../../strings'

const s = t.pages.alarms
const entries = (labels) => Object.entries(labels).map(([value, label]) => ({ value, label }))

export const priorityOptions = entries(s.priorities)
export const stateOptions = entries(s.states)
export const kindOptions = entries(s.kinds)
export const stationOptions = () => (session.me?.stations || []).map((st) => ({ value: st.code, label: `${st.name} · ${st.code}` }))
export const time = (v) => (v ? new Date(v).toLocaleString('zh-CN', { hour12: false }) : '')
// a day picked in the browser's zone, sent as the start of that day or of the next (an open-ended range)
export const dayStart = (day) => new Date(`${day}T00:00:00`).toISOString()
export const dayEnd = (day) => new Date(new Date(`${day}T00:00:00`).getTime() + 86_400_000).toISOString()
