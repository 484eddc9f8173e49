// Every string the POS shows, in one place (zh-CN).
export default {
  app: { name: '智慧零管', title: '收银台' },
  login: { title: '收银员登录', username: '用户名', password: '密码', submit: '登 录', failed: '登录失败' },
  terminal: {
    title: '设置终端编号', label: '终端编号', hint: '本机收银终端的编号，如 pos-1（保存在本机）',
    bad: '终端编号为 1–32 位小写字母、数字或 -', save: '保 存',
  },
  nav: { home: '首页', orders: '数据查询', handover: '交接班', station: '站点', cashier: '收银员', terminal: '终端', logout: '退出' },
  nozzles: {
    title: '油枪状态', idle: '空闲', fuelling: '加油中', payable: '待付款', offline: '离线', online: '在线',
    amount: '金额', volume: '升数', price: '单价', gun: (n) => `${n}号枪`, point: (n) => `${n}号位`, none: '本站没有油枪主数据',
  },
  prices: {
    title: (v, n) => `调价（第 ${v} 版）尚未在 ${n} 支油枪生效：这些油枪仍按旧价加油`,
    where: (n) => `${n.device} · ${n.fuelling_point}号位 ${n.nozzle}号枪 · ${n.grade}#`,
    still: (p) => `仍为旧价 ${p === '—' ? p : `¥${p}`}`, next: (p) => `新价 ¥${p}`, pending: '待生效（空闲后调价）', refused: '加油机拒绝新价',
  },
  records: {
    title: '加油记录（待支付）', search: '搜索金额 290 / 升数 40.00L / 油枪 3号', empty: '暂无待支付订单',
    hint: '↑↓ 选择 · 空格 加入/移出合并 · Enter 收款', nozzle: '油枪', grade: '油品', volume: '升数',
    amount: '金额', time: '时间', lockedBy: (t) => `${t} 收款中`, selected: (n, sum) => `已选 ${n} 笔，合计 ${sum}`,
  },
  pay: {
    title: '收款', orders: '订单', total: '应收合计', paid: '已付', due: '待付', method: '支付方式', amount: '金额',
    addTender: '拆分（再加一种方式）', remove: '删除', received: '实收现金', change: '找零', reference: '凭证号',
    note: '备注', member: '会员', memberNone: '会员：暂未接入', pay: '确认收款 (Enter)', cancel: '取消 (Esc)',
    pending: (s) => `等待顾客扫码支付… 剩余 ${s} 秒`, qr: '请顾客扫描二维码付款', succeeded: '收款成功',
    failed: '收款失败', receipt: '打印小票', receiptPage: '查看小票', lockFailed: '无法锁定订单',
    unavailable: '不可用', notReady: '收款接口尚未部署到本站服务器（payments），请稍后', tendersShort: '各方式金额之和须等于待付金额',
    timeout: '支付超时，已撤销', cashShort: '实收现金不足',
  },
  methods: { cash: '现金', wechat: '微信', alipay: '支付宝', bank_card: '银行卡', unionpay_qr: '云闪付', ecny: '数字人民币', other: '其他',
    stored_value: '储值卡', ic_card: 'IC卡', fleet_credit: '车队挂账' },
  bar: {
    shift: '班次', noShift: '未开班', takings: '当前班次累计', orders: '笔', volume: '升', person: '负责人', hours: '已开班',
    hoursUnit: '小时', mask: '脱敏', headOffice: '总部', devices: '设备', version: '版本',
    linkOk: '总部连接正常', linkDown: (m) => `总部连接中断，仅可${m}`, linkUnknown: '总部连接状态未知', noOnline: '本站未开通线上支付',
    openShift: '开班',
  },
  handover: {
    title: '交接班', readings: '交班泵码（升）', pump: '加油机', nozzle: '油枪', start: '接班泵码', end: '交班泵码',
    cash: '现金清点', denomination: '面额', pieces: '张/枚', counted: '清点合计', expected: '应有现金', diff: '长短款',
    explanation: '长短款说明', override: '强制交班原因（有未付订单时，站长填写）', submit: '确认交班', cancel: '取消',
    done: '交班完成，请下一位收银员登录', unpaid: (n) => `本班还有 ${n} 笔未付订单`,
  },
  query: { title: '订单查询', orderNo: '订单号', status: '状态', more: '加载更多', paidFen: '已付' },
  status: { payable: '待支付', paid: '已支付', held: '挂单', pending_approval: '待审批', written_off: '已核销' },
  errors: { network: '无法连接服务器，请检查网络', server: (s) => `服务器错误 (${s})` },
}
