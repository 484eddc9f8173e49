// The H5's door to the JSON API (/api/v1/h5/…): the customer's bearer token, errors as ApiError with the detail.
import { forget, session } from './session'
import t from './strings'

export class ApiError extends Error {
  constructor(status, problem) {
    super((typeof problem?.detail === 'string' && problem.detail) || t.errors.server(status))
    this.status = status
  }
}

export async function api(path, { method = 'GET', json } = {}) {
  const headers = { Accept: 'application/json' }
  if (session.token) headers.Authorization = `Bearer ${session.token}`
  let body
  if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json) }
  let response
  try {
    response = await fetch(new URL(path, window.location.origin), { method, headers, body })
  } catch {
    throw new ApiError(0, { detail: t.errors.network })
  }
  const text = await response.text()
  let payload = null
  try { payload = text ? JSON.parse(text) : null } catch { payload = null }
  if (!response.ok) {
    if (response.status === 401 && session.token) forget()
    throw new ApiError(response.status, payload)
  }
  return payload
}
