// The back office (管理后台): Vue 3 + Element Plus (components imported on demand), zh-CN.
import { createApp } from 'vue'
import 'element-plus/theme-chalk/base.css'
import App from './App.vue'
import router from './router'
import './style.css'

createApp(App).use(router).mount('#app')
