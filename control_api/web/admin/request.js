// The request code every app shares (the back office, the POS, the customer H5), with no imports of its own so
// that an app takes only its own session and strings: errors as ApiError carrying the problem+json body
// (`detail`, and for 422 the per-field `errors`), and `makeApi` for one kind of session.

export class ApiError extends Error {
  constructor(status, problem, strings) {
    const detail = typeof problem?.detail === 'string' ? problem.detail : ''
    super(detail || (typeof problem?.title === 'string' && problem.title) || strings.errors.server(status))
    this.status = status
    this.problem = problem || {}
    this.fieldErrors = Object.fromEntries((this.problem.errors || []).map((e) => [e.field, e.message]))
  }
}

// `token()` the session's bearer token, `strings` the app's messages (errors.network, errors.server(status)),
// `unauthorized()` called on a 401 while signed in.
export function makeApi(token, strings, unauthorized) {
  return async function api(path, { method = 'GET', query, json, form, headers: extra = {} } = {}) {
    const url = new URL(path, window.location.origin)
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, value)
    }
    const headers = { Accept: 'application/json', ...extra }
    if (token()) headers.Authorization = `Bearer ${token()}`
    let body
    if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json) }
    if (form !== undefined) body = new URLSearchParams(form)
    let response
    try {
      response = await fetch(url, { method, headers, body })
    } catch {
      throw new ApiError(0, { detail: strings.errors.network }, strings)
    }
    const text = await response.text()
    let payload = null
    try { payload = text ? JSON.parse(text) : null } catch { payload = null }
    if (!response.ok) {
      if (response.status === 401 && token()) unauthorized()
      throw new ApiError(response.status, payload, strings)
    }
    return payload
  }
}
