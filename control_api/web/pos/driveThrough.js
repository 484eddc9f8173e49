// 无感支付 at the POS: the day's attachments (GET …/drive-through, polled while 首页 is shown) and the pure rules
// of what a fuelling-position tile shows of them.
import { onUnmounted, ref } from 'vue'
import { api } from '../admin/api'

export const POLL_MS = 3000
const OPEN = new Set(['attached', 'due', 'awaiting'])        // still on the position
const RECENT_MS = 15 * 60_000                                // a paid or cashier outcome stays shown this long

// The attachment each fuelling position shows: its newest one still open, or closed (paid / 转收银) recently.
export function byPoint(attachments, now = Date.now()) {
  const shown = {}
  for (const a of attachments || []) {         // newest first, as the server lists them
    if (shown[a.fuelling_point]) continue
    const recent = now - new Date(a.attached_at).getTime() < RECENT_MS
    if (OPEN.has(a.state) || (recent && (a.state === 'paid' || a.state === 'cashier'))) shown[a.fuelling_point] = a
  }
  return shown
}

export const stateColour = { attached: 'primary', due: 'warning', awaiting: 'warning', paid: 'success', cashier: 'danger',
  undone: 'info', expired: 'info' }

export const undoable = (a) => a && a.state !== 'undone' && a.state !== 'expired'

// The day's attachments, polled every POLL_MS (a role without payment:read simply sees none).
export function useAttachments(base) {
  const attachments = ref([])
  let timer = 0
  async function load() {
    try { attachments.value = (await api(`${base()}/drive-through`, { query: { limit: 200 } })).items } catch { /* kept */ }
  }
  function start() { load(); timer = setInterval(load, POLL_MS) }
  onUnmounted(() => clearInterval(timer))
  return { attachments, load, start }
}
