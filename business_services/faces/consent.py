"""The consent texts a person agrees to before their face is enrolled (docs/vision.md "The gallery").

A face is sensitive personal information (PIPL art. 28): it is processed only with the person's separate consent
(art. 29), after they were told what is collected, why, how long it is kept and how to withdraw (art. 17). Each
enrolment records the version of the text the person agreed to; the back office shows the whole text of the version
before it enrols. A version's text is never changed once it was used: a new wording is a new version, added here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class ConsentText:
    version: str
    title: str
    effective: date
    text: str


CONSENT_TEXTS: dict[str, ConsentText] = {c.version: c for c in (
    ConsentText("face-2026.1", "人脸信息处理单独同意书", date(2026, 12, 1), """\
为向您提供刷脸支付与到站识别服务，本公司需要处理您的人脸信息。人脸信息属于敏感个人信息，请您仔细阅读以下内容后决定是否同意。

一、处理的信息：您本人的人脸照片经计算生成的人脸特征值。默认不保存照片原图；仅保存特征值、同意记录（同意人、同意时间、同意方式、本同意书版本）与登记人员。
二、处理目的：在本公司加油站的支付终端和车道识别您的会员身份，用于刷脸支付、会员权益核验与到站服务。不用于其他目的，不向第三方提供。
三、处理方式：人脸特征值存储于本公司总部服务器，仅在识别时与现场拍摄的人脸比对；每次识别均进行活体检测，并留存审计记录（不含人脸信息）。
四、保存期限：自您同意之日起至您撤回同意、注销会员或本服务终止之日止；届时本公司将删除您的全部人脸信息。
五、您的权利：您可随时通过门店柜台、会员小程序或客服热线撤回同意并要求删除人脸信息，撤回不影响撤回前已进行的处理，也不影响您使用其他支付方式。
六、不同意的后果：您可以不同意本同意书，这不影响您使用加油、会员及其他支付服务。

本人已阅读并理解上述内容，同意本公司按上述方式处理本人的人脸信息。"""),
)}
