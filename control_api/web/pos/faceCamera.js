// The terminal's camera for 刷脸支付 and the frame upload: open the camera (getUserMedia), grab one JPEG frame,
// send it with the orders to the station server (multipart; the api() door sends JSON and forms only).
import { ApiError } from '../admin/api'
import { session } from '../admin/session'
import t from './strings'

export const FRAME = { width: 640, height: 480, quality: 0.85 }

export async function openCamera(video) {
  // browsers offer the camera to secure origins only (https://, or http://127.0.0.1 / localhost): docs/pos.md
  if (!navigator.mediaDevices?.getUserMedia) throw new Error(window.isSecureContext ? t.face.noDevice : t.face.insecure)
  const stream = await navigator.mediaDevices.getUserMedia(
    { video: { width: FRAME.width, height: FRAME.height, facingMode: 'user' }, audio: false })
  video.srcObject = stream
  await video.play()
  return () => stream.getTracks().forEach((track) => track.stop())
}

export function grab(video, canvas) {
  canvas.width = video.videoWidth || FRAME.width
  canvas.height = video.videoHeight || FRAME.height
  canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height)
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error('toBlob'))), 'image/jpeg', FRAME.quality))
}

export async function sendFrame(station, { frame, orderNos, terminal, key, signal }) {
  const body = new FormData()
  body.append('image', frame, 'frame.jpg')
  for (const no of orderNos) body.append('order_nos', no)
  body.append('terminal', terminal)
  const headers = { Accept: 'application/json', 'Idempotency-Key': key }
  if (session.token) headers.Authorization = `Bearer ${session.token}`
  let response
  try {
    response = await fetch(`/api/v1/stations/${station}/face-payments`, { method: 'POST', headers, body, signal })
  } catch (e) {
    if (e.name === 'AbortError') throw e
    throw new ApiError(0, { detail: t.errors.network }, t)
  }
  let payload = null
  try { payload = await response.json() } catch { payload = null }
  if (!response.ok) throw new ApiError(response.status, payload, t)
  return payload
}
