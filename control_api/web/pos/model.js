// The POS's pure rules (no I/O): money, the smart search, tiles from master data and live values, tenders.
export const yuan = (fen) => (fen === null || fen === undefined ? '—' : (fen / 100).toFixed(2))
export const MASK = '******'

// Times on screen in the station's zone (business_services/numbers.py STATION_ZONE), whatever the PC's zone.
const ZONE = 'Asia/Shanghai'
export const stationTime = (value, timeOnly = false) => (value
  ? new Date(value)[timeOnly ? 'toLocaleTimeString' : 'toLocaleString']('zh-CN', { hour12: false, timeZone: ZONE })
  : '—')

// What the cashier typed: a nozzle (`3号`), a volume (`40.00L`/`40升`) or an amount (`290`, `290.00`).
export function parseSearch(text) {
  const s = (text || '').trim().toLowerCase()
  if (!s) return null
  let m = /^(\d{1,2})\s*号?枪?$/.exec(s)
  if (m && /号|枪/.test(s)) return { nozzle: Number(m[1]) }
  m = /^(\d+(?:\.\d{1,2})?)\s*(l|升)$/.exec(s)
  if (m) return { volume_l: Number(m[1]).toFixed(2) }
  m = /^(\d+(?:\.\d{1,2})?)\s*元?$/.exec(s)
  if (m) return { amount_fen: Math.round(Number(m[1]) * 100) }
  return { text: s }
}

// Whether one payable order matches the search (amount within 1 fen, volume within 0.01 L, as the server does).
export function matches(order, search) {
  if (!search) return true
  if (search.nozzle !== undefined) return order.nozzle === search.nozzle
  if (search.volume_l !== undefined) return Math.abs(Number(order.volume_l) - Number(search.volume_l)) <= 0.01
  if (search.amount_fen !== undefined) return Math.abs(order.amount_fen - search.amount_fen) <= 1
  return order.order_no.toLowerCase().includes(search.text)
}

const FUELLING_STATES = new Set([5, 6, 7, 8, 9])   // IFSF: authorised … suspended fuelling

// One tile per nozzle of the master data, with the live values of its fuelling point.
export function tiles(nozzles, live, payable) {
  return nozzles.map((n) => {
    const device = live[n.device] || {}
    const v = (name) => device.values?.[`fp${n.fuelling_point}/${name}`]?.value
    const up = v('nozzle') === n.number
    const offline = !device.values || device.online === false || device.stale === true
    const waiting = payable.some((o) => o.nozzle === n.number && (o.pump === undefined || o.pump === n.device))
    let state = 'idle'
    if (offline) state = 'offline'
    else if (up && FUELLING_STATES.has(v('state'))) state = 'fuelling'
    else if (waiting) state = 'payable'
    return {
      key: `${n.device}/${n.fuelling_point}/${n.number}`, device: n.device, point: n.fuelling_point,
      number: n.number, grade: n.grade_name || n.grade || '—', state, online: !offline,
      amount_fen: up ? v('amount') : null, volume_l: up && v('volume') != null ? Number(v('volume')).toFixed(2) : null,
      price_fen: device.values?.[`fp${n.fuelling_point}/nozzle${n.number}/price`]?.value ?? (up ? v('price') : null),
    }
  })
}

// The tender rows after the due amount changed or a row was added: the last row takes what the others leave.
export function balance(tenders, due) {
  if (!tenders.length) return tenders
  const others = tenders.slice(0, -1).reduce((sum, t) => sum + (t.amount_fen || 0), 0)
  tenders[tenders.length - 1].amount_fen = Math.max(0, due - others)
  return tenders
}

// A method the station has not set up (the payments registry's NOT_CONFIGURED reason): says nothing about the
// head-office link. (The methods list has no flag for it yet; docs/pos.md "Known limits".)
export const notSetUp = (method) => !method.available && (method.reason || '').startsWith('尚未开通')

export const changeFen = (receivedFen, cashFen) => Math.max(0, (receivedFen || 0) - (cashFen || 0))

// A fresh key per payment attempt (kept while that attempt is retried).
export const newKey = () => (crypto.randomUUID ? crypto.randomUUID()
  : `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}`)

// A WebSocket to the API that reconnects (at most once a second) until closed.
export function liveSocket(path, token, onMessage, onState = () => {}) {
  let socket = null
  let stopped = false
  const open = () => {
    const url = new URL(path, window.location.origin)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    url.searchParams.set('access_token', token)
    socket = new WebSocket(url)
    socket.onopen = () => onState(true)
    socket.onmessage = (e) => { try { onMessage(JSON.parse(e.data)) } catch { /* not JSON: ignored */ } }
    socket.onclose = () => { onState(false); if (!stopped) setTimeout(open, 1000) }
  }
  open()
  return () => { stopped = true; socket?.close() }
}
