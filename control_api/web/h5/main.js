// The customer H5 (会员手机页): Vue 3 + Vant 4, zh-CN, phone-sized. Served at /h5/ by head office; members log in
// with their phone and an SMS code, or open one confirmation from a drive-through notice's link (docs/h5.md).
import { createApp } from 'vue'
import {
  Button, Cell, CellGroup, Empty, Field, Form, Loading, NavBar, Radio, RadioGroup, Switch, Tabbar, TabbarItem, Tag,
} from 'vant'
import 'vant/lib/index.css'
import App from './App.vue'
import { router } from './router'
import './style.css'

const app = createApp(App).use(router)
for (const part of [Button, Cell, CellGroup, Empty, Field, Form, Loading, NavBar, Radio, RadioGroup, Switch, Tabbar,
  TabbarItem, Tag]) app.use(part)
app.mount('#app')
