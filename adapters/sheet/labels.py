"""Row 2 of a sheet: each key's label in the partner's language.

Labels are for people only; the decoder never reads them. Languages: English ``en``, Lao ``lo``,
Vietnamese ``vi``, Simplified Chinese ``zh-Hans`` and Burmese ``my`` (Unicode, never Zawgyi).
The translations are working labels: a liaison officer of each partner should review them.
"""

from __future__ import annotations

from types import MappingProxyType

from adapters.sheet.columns import KEYS

LANGUAGES = ("en", "lo", "vi", "zh-Hans", "my")

# Each key's labels, in the order of LANGUAGES. Chinese labels use full-width parentheses,
# as Chinese typography does (hence the RUF001 allowances).
_LABELS: dict[str, tuple[str, str, str, str, str]] = {
    "record": ("Record type", "ປະເພດແຖວ", "Loại dòng", "记录类型", "မှတ်တမ်းအမျိုးအစား"),
    "person": ("Person no.", "ບຸກຄົນທີ", "Người số", "人员编号", "ပုဂ္ဂိုလ်နံပါတ်"),
    "message_type": ("Message type", "ປະເພດຂໍ້ຄວາມ", "Loại văn bản", "消息类型", "စာအမျိုးအစား"),
    "enquiry_id": ("Enquiry ID", "ລະຫັດຄຳຮ້ອງ", "Mã yêu cầu", "协查编号", "စုံစမ်းမှုအမှတ်"),
    "response_id": ("Response ID", "ລະຫັດຄຳຕອບ", "Mã trả lời", "答复编号", "အကြောင်းပြန်အမှတ်"),
    "case_reference": ("Case reference", "ເລກທີສຳນວນ", "Số hồ sơ", "案件编号", "အမှုအမှတ်"),
    "from_office": ("From office", "ຈາກຫ້ອງການ", "Từ đơn vị", "发件单位", "ပေးပို့သည့်ရုံး"),
    "to_offices": ("To offices", "ເຖິງຫ້ອງການ", "Gửi đơn vị", "收件单位", "လက်ခံမည့်ရုံးများ"),
    "officer_id": ("Officer ID", "ລະຫັດເຈົ້າໜ້າທີ່", "Số hiệu cán bộ", "警号", "အရာရှိအမှတ်"),
    "officer_name": ("Officer name", "ຊື່ເຈົ້າໜ້າທີ່", "Tên cán bộ", "民警姓名", "အရာရှိအမည်"),
    "officer_rank": ("Officer rank", "ຊັ້ນຍົດ", "Cấp bậc", "职务", "ရာထူး"),
    "officer_phone": ("Officer phone", "ເບີໂທເຈົ້າໜ້າທີ່", "Điện thoại cán bộ", "民警电话", "အရာရှိဖုန်း"),
    "officer_email": ("Officer e-mail", "ອີເມວເຈົ້າໜ້າທີ່", "Email cán bộ", "民警邮箱", "အရာရှိအီးမေးလ်"),
    "enquiry_type": ("Enquiry type", "ປະເພດຄຳຮ້ອງ", "Loại yêu cầu", "协查类型", "စုံစမ်းမှုအမျိုးအစား"),
    "legal_basis": ("Legal basis", "ພື້ນຖານທາງກົດໝາຍ", "Căn cứ pháp lý", "法律依据", "ဥပဒေအခြေခံ"),
    "priority": ("Priority", "ລະດັບຄວາມຮີບດ່ວນ", "Mức độ khẩn", "紧急程度", "ဦးစားပေးအဆင့်"),
    "response_due": (
        "Answer due (UTC)",
        "ກຳນົດຕອບ (UTC)",
        "Hạn trả lời (UTC)",
        "答复期限（UTC）",  # noqa: RUF001
        "အကြောင်းပြန်ရမည့်ရက် (UTC)",
    ),
    "status": (
        "Answer status",
        "ສະຖານະຄຳຕອບ",
        "Tình trạng trả lời",
        "答复状态",
        "အကြောင်းပြန်အခြေအနေ",
    ),
    "evaluation": (
        "Evaluation (4x4)",
        "ການປະເມີນ (4x4)",
        "Đánh giá (4x4)",
        "评估（4x4）",  # noqa: RUF001
        "အကဲဖြတ်ချက် (4x4)",
    ),
    "handling": ("Handling code", "ລະຫັດການນຳໃຊ້", "Mã xử lý", "处理代码", "ကိုင်တွယ်မှုကုဒ်"),
    "handling_conditions": (
        "Handling conditions",
        "ເງື່ອນໄຂການນຳໃຊ້",
        "Điều kiện xử lý",
        "处理条件",
        "ကိုင်တွယ်မှုစည်းကမ်း",
    ),
    "language": (
        "Language of the text",
        "ພາສາຂອງຂໍ້ຄວາມ",
        "Ngôn ngữ văn bản",
        "文字语言",
        "စာသားဘာသာစကား",
    ),
    "summary": ("Summary of the case", "ສະຫຼຸບຄະດີ", "Tóm tắt vụ việc", "案情摘要", "အမှုအကျဉ်း"),
    "question": ("Question", "ຄຳຖາມ", "Nội dung yêu cầu", "协查事项", "မေးခွန်း"),
    "text": ("Answer", "ຄຳຕອບ", "Nội dung trả lời", "答复内容", "အကြောင်းပြန်ချက်"),
    "refusal_reason": (
        "Reason for refusal",
        "ເຫດຜົນການປະຕິເສດ",
        "Lý do từ chối",
        "拒绝理由",
        "ငြင်းဆိုရသည့်အကြောင်းရင်း",
    ),
    "role": ("Role", "ບົດບາດ", "Vai trò", "身份类别", "အခန်းကဏ္ဍ"),
    "sex": ("Sex", "ເພດ", "Giới tính", "性别", "ကျား/မ"),
    "date_of_birth": ("Date of birth", "ວັນເດືອນປີເກີດ", "Ngày sinh", "出生日期", "မွေးသက္ကရာဇ်"),
    "nationalities": ("Nationalities", "ສັນຊາດ", "Quốc tịch", "国籍", "နိုင်ငံသား"),
    "phone_numbers": (
        "Phone numbers (+country code)",
        "ເບີໂທລະສັບ (+ລະຫັດປະເທດ)",
        "Số điện thoại (+mã quốc gia)",
        "电话号码（+国家代码）",  # noqa: RUF001
        "ဖုန်းနံပါတ် (+နိုင်ငံကုဒ်)",
    ),
    "dna_reference": (
        "DNA reference no.",
        "ເລກອ້າງອີງ DNA",
        "Số tham chiếu ADN",
        "DNA编号",
        "DNA ရည်ညွှန်းအမှတ်",
    ),
    "description": ("Description", "ລາຍລະອຽດຮູບພັນ", "Mô tả", "体貌特征", "ဖော်ပြချက်"),
    "name_script": ("Script", "ຕົວອັກສອນ", "Chữ viết", "文字", "စာအက္ခရာ"),
    "name_language": ("Name language", "ພາສາຂອງຊື່", "Ngôn ngữ của tên", "姓名语言", "အမည်ဘာသာစကား"),
    "name_order": ("Name order", "ລຳດັບຊື່", "Thứ tự tên", "姓名顺序", "အမည်အစီအစဉ်"),
    "family_name": ("Family name", "ນາມສະກຸນ", "Họ", "姓", "မျိုးရိုးအမည်"),
    "second_family_name": (
        "Second family name",
        "ນາມສະກຸນທີສອງ",
        "Họ thứ hai",
        "第二姓",
        "ဒုတိယမျိုးရိုးအမည်",
    ),
    "given_names": ("Given names", "ຊື່", "Tên đệm và tên", "名", "ပေးထားသောအမည်"),
    "full_name": (
        "Full name as written",
        "ຊື່ເຕັມຕາມທີ່ຂຽນ",
        "Họ tên đầy đủ như đã viết",
        "全名（原文）",  # noqa: RUF001
        "ရေးထားသည့်အတိုင်း အမည်အပြည့်အစုံ",
    ),
    "transliteration_of": (
        "Transliteration of name no.",
        "ຖອດຈາກຊື່ທີ",
        "Phiên âm của tên số",
        "音译自第几个姓名",
        "အမည်နံပါတ်၏ အက္ခရာပြောင်း",
    ),
    "document_type": (
        "Document type",
        "ປະເພດເອກະສານ",
        "Loại giấy tờ",
        "证件类型",
        "စာရွက်စာတမ်းအမျိုးအစား",
    ),
    "document_number": ("Document number", "ເລກທີເອກະສານ", "Số giấy tờ", "证件号码", "စာရွက်စာတမ်းအမှတ်"),
    "document_country": ("Issuing country", "ປະເທດທີ່ອອກ", "Nước cấp", "签发国", "ထုတ်ပေးသည့်နိုင်ငံ"),
    "document_expiry": ("Expiry date", "ວັນໝົດອາຍຸ", "Ngày hết hạn", "有效期至", "သက်တမ်းကုန်ရက်"),
    "platform": ("Platform", "ແພລັດຟອມ", "Nền tảng", "平台", "ပလက်ဖောင်း"),
    "handle": ("Account name", "ຊື່ບັນຊີ", "Tên tài khoản", "账号", "အကောင့်အမည်"),
    "label": ("What the place is", "ສະຖານທີ່ນີ້ແມ່ນ", "Địa điểm này là", "地点说明", "နေရာအကြောင်း"),
    "country": ("Country", "ປະເທດ", "Quốc gia", "国家", "နိုင်ငံ"),
    "province": ("Province", "ແຂວງ", "Tỉnh", "省", "ပြည်နယ်/တိုင်း"),
    "district": ("District", "ເມືອງ", "Huyện", "县/区", "ခရိုင်/မြို့နယ်"),
    "village": ("Village", "ບ້ານ", "Xã/Phường", "乡镇/村", "ကျေးရွာ/ရပ်ကွက်"),
    "address": ("Address", "ທີ່ຢູ່", "Địa chỉ", "地址", "လိပ်စာ"),
    "kind": ("Kind", "ປະເພດ", "Loại", "类别", "အမျိုးအစား"),
    "registration": ("Registration plate", "ປ້າຍທະບຽນ", "Biển số", "车牌号", "ယာဉ်နံပါတ်"),
    "make_model": ("Make and model", "ຍີ່ຫໍ້ ແລະ ລຸ້ນ", "Hãng và kiểu", "品牌型号", "အမှတ်တံဆိပ်နှင့် မော်ဒယ်"),
    "colour": ("Colour", "ສີ", "Màu", "颜色", "အရောင်"),
    "organisation_name": ("Organisation name", "ຊື່ອົງການ", "Tên tổ chức", "组织名称", "အဖွဲ့အစည်းအမည်"),
}

LABELS: MappingProxyType[str, MappingProxyType[str, str]] = MappingProxyType(
    {
        language: MappingProxyType({key: _LABELS[key][index] for key in KEYS})
        for index, language in enumerate(LANGUAGES)
    }
)
