// What a member search box holds, as a member number: the number itself, or a mobile phone looked up
// (GET /api/v1/members/lookup; an ApiError, 404 for no such member, when the lookup fails).
import { api } from '../../api'

export const isPhone = (text) => /^1[0-9]{10}$/.test(text)

export async function memberNoOf(text) {
  if (!isPhone(text)) return text.toUpperCase()
  return (await api('/api/v1/members/lookup', { query: { phone: text } })).member_no
}

// The box's member number ({ no }), or the message to show for it ({ error }: `notFound` for no such member).
export async function searched(text, notFound) {
  try {
    return { no: await memberNoOf(text) }
  } catch (e) {
    return { error: e.status === 404 ? notFound : e.message }
  }
}
