"""Names of administrative divisions (GB/T 2260) the city's explanations mention by code.

Only for display: rules compare codes, never names. A code not listed is shown as is.
"""

from collections.abc import Mapping

#: code → (Simplified Chinese, English)
NAMES: Mapping[str, tuple[str, str]] = {
    "310101": ("上海市黄浦区", "Huangpu, Shanghai"),
    "310104": ("上海市徐汇区", "Xuhui, Shanghai"),
    "310105": ("上海市长宁区", "Changning, Shanghai"),
    "310106": ("上海市静安区", "Jing'an, Shanghai"),
    "310107": ("上海市普陀区", "Putuo, Shanghai"),
    "310109": ("上海市虹口区", "Hongkou, Shanghai"),
    "310110": ("上海市杨浦区", "Yangpu, Shanghai"),
    "310112": ("上海市闵行区", "Minhang, Shanghai"),
    "310113": ("上海市宝山区", "Baoshan, Shanghai"),
    "310114": ("上海市嘉定区", "Jiading, Shanghai"),
    "310115": ("上海市浦东新区", "Pudong, Shanghai"),
    "310116": ("上海市金山区", "Jinshan, Shanghai"),
    "310117": ("上海市松江区", "Songjiang, Shanghai"),
    "310118": ("上海市青浦区", "Qingpu, Shanghai"),
    "310120": ("上海市奉贤区", "Fengxian, Shanghai"),
    "310151": ("上海市崇明区", "Chongming, Shanghai"),
    "440306": ("深圳市宝安区", "Bao'an, Shenzhen"),
    "510107": ("成都市武侯区", "Wuhou, Chengdu"),
}


def area_name(code: str | None, lang: str) -> str:
    """``深圳市宝安区（440306）`` or ``Bao'an, Shenzhen (440306)``; the bare code if unnamed."""
    if code is None:
        return ""
    names = NAMES.get(code)
    if names is None:
        return code
    return f"{names[0]}（{code}）" if lang == "zh" else f"{names[1]} ({code})"
