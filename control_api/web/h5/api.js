// The H5's door to the JSON API (/api/v1/h5/…): the shared request code with the customer's own bearer token
// and messages; a 401 forgets the customer's session.
import { makeApi } from '../admin/request'
import { forget, session } from './session'
import t from './strings'

export const api = makeApi(() => session.token, t, forget)
