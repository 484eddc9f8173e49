// Money on screen: the API speaks integer fen, people read 元 with two decimals (and ****** when masked).
export function yuan(fen) {
  if (fen === null || fen === undefined) return '—'
  const sign = fen < 0 ? '-' : ''
  const abs = Math.abs(Math.trunc(Number(fen)))
  return `${sign}${Math.floor(abs / 100).toLocaleString('zh-CN')}.${String(abs % 100).padStart(2, '0')}`
}

// Litres as the API sends them (a number or a decimal string) with two places; blank stays blank.
export function litres(value) {
  if (value === null || value === undefined || value === '') return '—'
  return Number(value).toFixed(2)
}

export const localTime = (value) => (value ? new Date(value).toLocaleString('zh-CN', { hour12: false }) : '—')
