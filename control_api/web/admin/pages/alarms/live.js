// The alarm console's live parts: the WebSocket to /api/v1/alarms/stream (reconnecting), the list kept from its
// messages, and the annunciator (a Web Audio beep pattern per priority, only while an alarm is unacknowledged).
import { session } from '../../session'

// most urgent first (telemetry/contracts/events/alarms.py Priority)
export const PRIORITIES = ['urgent', 'high', 'medium', 'low', 'journal']
export const rank = (priority) => { const i = PRIORITIES.indexOf(priority); return i < 0 ? PRIORITIES.length : i }
// the states an operator's list shows (shelved too, greyed, so that it can be unshelved)
export const LISTED = new Set(['unacknowledged', 'acknowledged', 'returned_unacknowledged', 'shelved'])

// A WebSocket to the API that reconnects (at most once a second) until stopped.
export function liveSocket(path, onMessage, onState = () => {}) {
  let socket = null
  let stopped = false
  const open = () => {
    const url = new URL(path, window.location.origin)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    url.searchParams.set('access_token', session.token)
    socket = new WebSocket(url)
    socket.onopen = () => onState(true)
    socket.onmessage = (e) => { try { onMessage(JSON.parse(e.data)) } catch { /* not JSON: ignored */ } }
    socket.onclose = () => { onState(false); if (!stopped) setTimeout(open, 1000) }
  }
  open()
  return () => { stopped = true; socket?.close() }
}

// One alarm as the list keeps it, from an API row or an alarm.* transition (its state is `state_to`).
export function alarmOf(message) {
  const alarm = { ...message }
  if (alarm.state === undefined && alarm.state_to !== undefined) alarm.state = alarm.state_to
  if (alarm.raised_at === undefined && alarm.state_from === 'normal') alarm.raised_at = alarm.at
  return alarm
}

// Apply one stream message to `alarms` (a Map alarm_id → alarm). A snapshot ({items}) replaces the list; a
// transition ({alarm}, or the alarm itself) updates its alarm unless it is older than what we hold (seq).
export function apply(alarms, message) {
  if (Array.isArray(message?.items)) {
    alarms.clear()
    for (const row of message.items) if (LISTED.has(alarmOf(row).state)) alarms.set(row.alarm_id, alarmOf(row))
    return
  }
  const body = message?.alarm ?? message?.transition ?? message
  if (!body?.alarm_id) return
  const held = alarms.get(body.alarm_id)
  if (held && (body.seq ?? 0) < (held.seq ?? 0)) return      // a late one: we already show newer
  const alarm = { ...held, ...alarmOf(body) }
  if (LISTED.has(alarm.state)) alarms.set(alarm.alarm_id, alarm)
  else alarms.delete(alarm.alarm_id)
}

// active first by priority then newest (as GET /api/v1/alarms orders them)
export const ordered = (list) => [...list].sort((a, b) => (rank(a.priority) - rank(b.priority))
  || String(b.raised_at ?? b.at ?? '').localeCompare(String(a.raised_at ?? a.at ?? '')))

// [frequency Hz, beeps, beep seconds, gap seconds, repeat every seconds] per priority
const PATTERNS = {
  urgent: [988, 3, 0.12, 0.08, 1.5],
  high: [784, 2, 0.15, 0.1, 3],
  medium: [659, 1, 0.2, 0, 6],
  low: [523, 1, 0.1, 0, 12],
}

export class Annunciator {
  constructor() { this.context = null; this.timer = null; this.playing = null }

  // the browser allows sound after a user's gesture: called on the first click/key of the page
  unlock() {
    if (!this.context) this.context = new (window.AudioContext || window.webkitAudioContext)()
    return this.context.state === 'suspended' ? this.context.resume().catch(() => {}) : Promise.resolve()
  }

  get blocked() { return !this.context || this.context.state !== 'running' }

  // sound the pattern of `priority` (null: silence) until told otherwise
  sound(priority) {
    const pattern = PATTERNS[priority] ? priority : null
    if (pattern === this.playing) return
    this.playing = pattern
    clearInterval(this.timer)
    this.timer = null
    if (!pattern) return
    const [, , , , every] = PATTERNS[pattern]
    this.beep(pattern)
    this.timer = setInterval(() => this.beep(pattern), every * 1000)
  }

  beep(priority) {
    if (!this.context || this.context.state !== 'running') return
    const [hz, beeps, length, gap] = PATTERNS[priority]
    const start = this.context.currentTime + 0.02
    for (let i = 0; i < beeps; i += 1) {
      const at = start + i * (length + gap)
      const tone = this.context.createOscillator()
      const volume = this.context.createGain()
      tone.type = 'square'
      tone.frequency.value = hz
      volume.gain.setValueAtTime(0.08, at)
      volume.gain.setValueAtTime(0, at + length)
      tone.connect(volume).connect(this.context.destination)
      tone.start(at)
      tone.stop(at + length)
    }
    window.__alarmBeeps = (window.__alarmBeeps || 0) + 1    // counted for the browser test
  }

  stop() { this.sound(null); this.context?.close(); this.context = null }
}
