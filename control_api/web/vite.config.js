// Forecourt web apps: one Vite project, one entry per app (admin: the back office; pos: the station POS; h5: the
// customers' phone pages, Vant).
// Built by scripts/web.sh into dist/, served by control_api/pages.py at /<app>/ with assets at /assets/.
// Element Plus is imported on demand (only the components a page uses) and every text asset is
// written gzipped beside itself (name.gz) so the API serves it compressed without compressing per request.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import Components from 'unplugin-vue-components/vite'
import { defineConfig } from 'vite'

export const APPS = ['admin', 'pos', 'h5']
const here = fileURLToPath(new URL('.', import.meta.url))
const { version } = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'))

function gzipAssets() {
  let outDir = ''
  const walk = (dir) => readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : [path]
  })
  return {
    name: 'forecourt-gzip',
    apply: 'build',
    configResolved(config) { outDir = config.build.outDir },
    closeBundle() {
      for (const path of walk(outDir)) {
        if (/\.(js|css|html|svg|json)$/.test(path)) {
          writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }))
        }
      }
    },
  }
}

export default defineConfig({
  root: here,
  base: '/',
  define: { __APP_VERSION__: JSON.stringify(version) },
  plugins: [
    vue(),
    AutoImport({ resolvers: [ElementPlusResolver()], dts: false }),
    Components({ resolvers: [ElementPlusResolver()], dts: false }),
    gzipAssets(),
  ],
  build: {
    outDir: join(here, 'dist'),
    emptyOutDir: true,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 800,
    rollupOptions: {
      input: Object.fromEntries(APPS.map((app) => [app, join(here, app, 'index.html')])),
    },
  },
})
