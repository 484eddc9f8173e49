// The back office's and the POS's door to the JSON API (request.js with the staff session and its strings), and
// the downloads, pages and uploads beside it.
import { ApiError, makeApi } from './request'
import { session } from './session'
import t from './strings'

let onUnauthorized = () => {}
export function whenUnauthorized(handler) { onUnauthorized = handler }

export { ApiError }
export const api = makeApi(() => session.token, t, () => onUnauthorized())

// A file the API answers (e.g. an Excel export): fetched with the bearer token, saved through a link click
// under the name the server's Content-Disposition gives.
export async function download(path, fallbackName) {
  const headers = session.token ? { Authorization: `Bearer ${session.token}` } : {}
  let response
  try {
    response = await fetch(new URL(path, window.location.origin), { headers })
  } catch {
    throw new ApiError(0, { detail: t.errors.network }, t)
  }
  if (!response.ok) {
    let problem = null
    try { problem = await response.json() } catch { problem = null }
    throw new ApiError(response.status, problem, t)
  }
  const named = /filename\*=UTF-8''([^;]+)/i.exec(response.headers.get('Content-Disposition') || '')
  const name = named ? decodeURIComponent(named[1]) : fallbackName
  const link = document.createElement('a')
  link.href = URL.createObjectURL(await response.blob())
  link.download = name
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000)
  return name
}

// Idempotency-Keys (docs/api.md). From getRandomValues, which (unlike randomUUID) also works on a station
// server reached over plain http.
export function newKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('')
}

// One key per request body within one action (a dialog): the same body sent again (a retry after a lost
// answer) reuses its key, so the server answers as the first time; a changed body is a new request.
export function idempotent() {
  let last = { body: null, key: '' }
  return (json) => {
    const body = JSON.stringify(json)
    if (body !== last.body) last = { body, key: newKey() }
    return { 'Idempotency-Key': last.key }
  }
}

// A page the API answers (e.g. a printable report) opened in a new tab: fetched with the bearer token.
export async function openPage(path) {
  const tab = window.open('', '_blank')
  const headers = session.token ? { Authorization: `Bearer ${session.token}` } : {}
  const response = await fetch(new URL(path, window.location.origin), { headers })
  if (!response.ok) { tab?.close(); throw new ApiError(response.status, await response.json().catch(() => null), t) }
  const html = await response.text()
  if (tab) tab.location.href = URL.createObjectURL(new Blob([html], { type: 'text/html;charset=utf-8' }))
}

// A multipart upload (a photo) with its progress: XMLHttpRequest, since fetch reports no upload progress.
// `onProgress(percent)` is called as the bytes leave; errors are ApiError as from api().
export function upload(path, formData, { method = 'POST', headers: extra = {}, onProgress = () => {} } = {}) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest()
    request.open(method, new URL(path, window.location.origin))
    request.setRequestHeader('Accept', 'application/json')
    if (session.token) request.setRequestHeader('Authorization', `Bearer ${session.token}`)
    for (const [key, value] of Object.entries(extra)) request.setRequestHeader(key, value)
    request.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(Math.round((e.loaded / e.total) * 100)) }
    request.onerror = () => reject(new ApiError(0, { detail: t.errors.network }, t))
    request.onload = () => {
      let payload = null
      try { payload = request.responseText ? JSON.parse(request.responseText) : null } catch { payload = null }
      if (request.status >= 200 && request.status < 300) { onProgress(100); resolve(payload); return }
      if (request.status === 401 && session.token) onUnauthorized()
      reject(new ApiError(request.status, payload, t))
    }
    request.send(formData)
  })
}
