// What the price pages share: grade names, units, the states' labels and tag colours, and 元 ⇄ fen for
// the price boxes (the API speaks integer fen per litre, kilogram or kWh; people type 元 with two decimals).
import { yuan } from '../../money'
import t from '../../strings'

const s = t.pages.prices

export const gradeName = (grade, name) => name || s.gradeNames[grade] || String(grade ?? s.none)
export const unitLabel = (unit) => s.units[unit || 'L'] ?? unit
// a grade's unit as master data has it (business_services/stations/model.py GRADES): gas by kg, charging by kWh
export const unitOfGrade = (grade) => ({ cng: 'kg', lng: 'kg', ev: 'kWh' })[grade] ?? 'L'
export const priceText = (fen, unit) => (fen === null || fen === undefined ? s.none : `${yuan(fen)} ${unitLabel(unit)}`)
export const stateLabel = (state) => s.states[state] ?? state ?? s.none
export const nozzleStateLabel = (state) => s.nozzleStates[state] ?? state

const TAGS = { in_force: 'success', applying: 'warning', partly_applied: 'danger', scheduled: 'info', none: 'info',
  applied: 'success', refused: 'danger', pending: 'warning',
  awaiting_approval: 'warning', sent: 'success', rejected: 'danger', cancelled: 'info' }
export const stateTag = (state) => TAGS[state] ?? 'info'

// "7.89" → 789; anything else (blank, letters, three decimals, zero or less) → null
export function fenOf(text) {
  const match = /^\s*(\d{1,3})(?:\.(\d{1,2}))?\s*$/.exec(String(text ?? ''))
  if (!match) return null
  const fen = Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'))
  return fen > 0 ? fen : null
}

export const yuanOf = (fen) => (fen === null || fen === undefined ? '' : yuan(fen).replace(/,/g, ''))

export const nozzleName = (n) => `${n.device} · ${n.fuelling_point}-${n.nozzle}`
