// The station POS (收银台): Vue 3 + Element Plus (on demand), zh-CN, keyboard first. Served at /pos/ by the
// station server; it shares the back office's API door and session (../admin/api.js, ../admin/session.js).
import { createApp } from 'vue'
import 'element-plus/theme-chalk/base.css'
import 'element-plus/theme-chalk/el-message.css'
import App from './App.vue'
import './style.css'

createApp(App).mount('#app')
