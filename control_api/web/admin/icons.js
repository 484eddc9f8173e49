// The icons a menu entry may name (`"icon": "Monitor"`); an unknown name falls back to Menu.
// Listed, not `import *`, so the bundle carries only these.
import {
  Bell, Box, Coin, CreditCard, DataAnalysis, Document, Files, Goods, Histogram, HomeFilled, Menu, Monitor, Odometer,
  PriceTag, Setting, ShoppingCart, Tickets, Tools, User, Van, Wallet,
} from '@element-plus/icons-vue'

const icons = {
  Bell, Box, Coin, CreditCard, DataAnalysis, Document, Files, Goods, Histogram, HomeFilled, Menu, Monitor, Odometer,
  PriceTag, Setting, ShoppingCart, Tickets, Tools, User, Van, Wallet,
}

export function icon(name) { return icons[name] || Menu }
