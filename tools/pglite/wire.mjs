// What stands between pglite-socket and PGlite: makes one PGlite backend behave, towards a
// sequence of wire-protocol clients, like a PostgreSQL server does towards its connections.
//
// pglite-socket (0.0.19) hands every TCP chunk to `db.execProtocolRaw` as it arrives. Three things
// go wrong with that, and `WireSession` (passed to PGLiteSocketServer in place of the database)
// fixes each:
//
// 1. Message boundaries. A chunk may end inside a message or hold several; PGlite wants whole
//    messages. We buffer and pass on only complete ones.
// 2. COPY ... FROM STDIN. PGlite cannot suspend a COPY between calls: the Query and all its
//    CopyData / CopyDone (or CopyFail) messages must reach it in one call, otherwise the WASM
//    backend aborts ("RuntimeError: unreachable") and the process dies. We answer the client's
//    COPY with a CopyInResponse ourselves, hold its data until CopyDone, then run the whole
//    exchange at once and drop PGlite's own CopyInResponse from the answer. The data is held in
//    memory; COPY in the extended protocol is not handled (psycopg sends COPY as a simple query).
// 3. Session state. PGlite is one backend that outlives its clients: an open transaction, temp
//    tables, prepared statements (psycopg names them _pg3_0, _pg3_1 … on every connection) would
//    leak into the next client. Before each startup packet we roll back, DISCARD ALL, and restore
//    the settings PGlite's session started with (its search_path is a session setting) and the
//    client_min_messages a PostgreSQL server has by default (PGlite's build says debug3).

const PROTOCOL_3 = 196608
const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const COPY_FROM_STDIN = /^(?:\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)*copy\s[\s\S]*\bfrom\s+stdin\b/i
const BINARY_COPY = /\bformat\s+"?binary\b|\bbinary\b/i

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function concat(parts) {
  const size = parts.reduce((sum, part) => sum + part.length, 0)
  const out = new Uint8Array(size)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

function message(type, body) {
  const out = new Uint8Array(5 + body.length)
  out[0] = type.charCodeAt(0)
  new DataView(out.buffer).setInt32(1, 4 + body.length)
  out.set(body, 5)
  return out
}

export function query(sql) {
  return message('Q', encoder.encode(`${sql}\0`))
}

function int32(bytes, at) {
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getInt32(0)
}

// The complete messages at the front of `bytes`, and what is left over.
export function splitMessages(bytes) {
  const messages = []
  let at = 0
  for (;;) {
    const untyped = bytes[at] === 0 // startup, SSL and cancel requests have no type byte
    const head = untyped ? 4 : 5
    if (bytes.length - at < head) break
    const size = untyped ? int32(bytes, at) : 1 + int32(bytes, at + 1)
    if (size < head || bytes.length - at < size) break
    messages.push(bytes.subarray(at, at + size))
    at += size
  }
  return { messages, rest: bytes.slice(at) }
}

// Drop every message of `type` from a backend response.
function without(type, bytes) {
  const code = type.charCodeAt(0)
  const kept = splitMessages(bytes).messages.filter((m) => m[0] !== code)
  return concat(kept)
}

function copyInResponse(sql) {
  const body = new Uint8Array(3) // overall format, then zero columns (clients do not need the count)
  body[0] = BINARY_COPY.test(sql) ? 1 : 0
  return message('G', body)
}

export class WireSession {
  constructor(db, { sessionSql = [] } = {}) {
    this.db = db
    this.sessionSql = sessionSql
    this.waitReady = db.waitReady
    this.newConnection()
  }

  // pglite-socket takes PGlite for each new client through this, before it reads the client's
  // first byte: the moment to forget what the last client left half-sent.
  runExclusive(fn) {
    return this.db.runExclusive(() => {
      this.newConnection()
      return fn()
    })
  }

  newConnection() {
    this.pending = new Uint8Array(0)
    this.copy = null // the held Query and CopyData of a COPY FROM STDIN under way
  }

  async execProtocolRaw(chunk) {
    // everything synchronous, so that chunks handled concurrently still reach PGlite in order
    const out = this.handle(chunk)
    await this.db.syncToFs()
    return out
  }

  handle(chunk) {
    const { messages, rest } = splitMessages(concat([this.pending, chunk]))
    this.pending = rest
    const replies = []
    let batch = []
    const flush = () => {
      if (batch.length) replies.push(this.db.execProtocolRawSync(concat(batch)))
      batch = []
    }
    for (const m of messages) {
      if (this.copy) {
        this.copy.push(m)
        const type = String.fromCharCode(m[0])
        if (type === 'c' || type === 'f') {
          replies.push(without('G', this.db.execProtocolRawSync(concat(this.copy))))
          this.copy = null
        }
      } else if (m[0] === 0) {
        flush()
        replies.push(this.untyped(m))
      } else if (m[0] === 0x51 /* Q */ && COPY_FROM_STDIN.test(decoder.decode(m.subarray(5)))) {
        flush()
        this.copy = [m]
        replies.push(copyInResponse(decoder.decode(m.subarray(5))))
      } else {
        batch.push(m)
      }
    }
    flush()
    return concat(replies)
  }

  untyped(m) {
    const code = int32(m, 4)
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) return encoder.encode('N') // no encryption here
    if (code === PROTOCOL_3) this.resetBackend()
    return this.db.execProtocolRawSync(m)
  }

  resetBackend() {
    this.copy = null
    for (const sql of ['ROLLBACK', 'DISCARD ALL', ...this.sessionSql]) {
      this.db.execProtocolRawSync(query(sql))
    }
  }
}

// The SET statements that give a client the session PGlite starts with.
export async function startingSession(db) {
  const { rows } = await db.query(
    "SELECT name, setting FROM pg_settings WHERE source = 'session' AND name <> 'client_min_messages'")
  const quote = (text) => `'${text.replaceAll("'", "''")}'`
  return [
    ...rows.map((r) => `SELECT set_config(${quote(r.name)}, ${quote(r.setting)}, false)`),
    'SET client_min_messages = notice',
  ]
}
