// Every string the customer H5 shows, in one place (zh-CN).
export default {
  app: { name: '智慧零管会员' },
  nav: { pending: '待确认', orders: '加油记录', settings: '无感支付', logout: '退出登录' },
  login: {
    title: '手机号登录', phone: '手机号', phoneHint: '请输入 11 位手机号', code: '验证码', codeHint: '6 位短信验证码',
    send: '获取验证码', resend: (s) => `${s} 秒后重发`, submit: '登 录', sent: '验证码已发送',
    badPhone: '请输入正确的 11 位手机号', badCode: '请输入 6 位验证码',
  },
  pending: { title: '待确认的订单', empty: '没有待确认的订单', open: '去确认' },
  confirm: {
    title: '确认支付', station: '油站', point: '油位', grade: '油品', volume: '升数', amount: '金额', plate: '车牌',
    card: '支付方式', storedValue: (c) => `储值卡（尾号 ${c.slice(-4)}）`, until: (t) => `请在 ${t} 前确认，逾时请到收银台付款`,
    pay: '确认支付', notMine: '不是我的车', confirmed: '已确认，油站将从您的储值卡扣款', declined: '已告知油站：不是您的车，收银员将处理',
    expired: '确认时限已过，请到收银台付款', paidHint: '金额以加油机计量为准',
    linkBad: '链接无效或订单已处理，请登录查看', login: '用手机号登录',
  },
  orders: { title: '加油记录', empty: '还没有已支付的加油记录', point: (n) => `${n}号油位` },
  settings: {
    title: '无感支付设置', method: '支付方式', off: '关闭', storedValue: '储值卡', card: '扣款储值卡', noCards: '您还没有储值卡，请到油站办理',
    balance: (y) => `余额 ¥${y}`, confirm: '每次确认', confirmHint: '开启后，每笔无感支付订单先推送到手机，由您确认后再扣款',
    save: '保 存', saved: '已保存', agreement: '开通免密支付', agreementNone: '暂未开通',
    byAgreement: '免密支付（微信）', agreementTitle: '免密支付', agreementState: '签约状态',
    states: { none: '未签约', signing: '签约中，请在微信中确认', active: '已开通', ended: '已解约' },
    continueSigning: '继续签约', endAgreement: '解除免密支付', ended: '已解约',
    endHint: '解约后，无感支付将改为关闭，可随时重新签约。确定解约吗？',
    chooseCard: '请选择一张储值卡',
  },
  errors: { network: '网络连接失败，请检查网络后重试', server: (s) => `服务器错误 (${s})，请稍后再试` },
  yuan: (fen) => `¥${(fen / 100).toFixed(2)}`,
}
