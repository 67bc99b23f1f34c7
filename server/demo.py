"""A realistic SATREPS research graph for demos, screenshots and benchmarks.

`seed_demo` loads some fifty joint research projects between Japan and 36 partner
countries, in the four SATREPS fields and in every lifecycle phase, with their partner
countries, institutions, researchers, affiliations and phase history.

What is real and what is not:
- Institutions are real (names in English and in the local language or script, acronyms).
  ROR ids are set only for the two we are sure of; a checksum-valid id of another
  organisation would be false data, so the others stay None.
- Projects, researchers, e-mail addresses (under the reserved `.example` domain) and
  phase histories are fictional; every project summary says so. Researchers get no ORCID
  iD: any checksum-valid iD falls in ORCID's issued blocks and may belong to a real person.

Everything is deterministic: one `random.Random(seed)` and dates counted from
REFERENCE_DATE (the day the graph is "as of"), never from today.

Loading twice is refused: `seed_demo` raises DemoDataExists when a demo project acronym is
already in the database, `seed_scaled` when its benchmark themes exist. Both only add and
flush; the caller commits.

`seed_scaled` builds a larger synthetic graph for benchmarks (N new themes x M projects x K
institutions) from the same institution catalogue and the same project builder, so its
projects obey the same rules (roles match countries, histories follow TRANSITIONS).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pycountry
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import Base
from server.models import (
    Affiliation,
    Institution,
    PhaseTransition,
    Project,
    ProjectCountry,
    ProjectInstitution,
    ProjectMember,
    ProjectTheme,
    Researcher,
    Theme,
)
from server.models.enums import InstitutionKind, InstitutionRole, MemberRole, ProjectPhase
from server.projects import TRANSITIONS

__all__ = [
    "DEMO_SEED",
    "REFERENCE_DATE",
    "DemoDataExists",
    "plan_demo",
    "plan_scaled",
    "seed_demo",
    "seed_scaled",
]

P = ProjectPhase
R = InstitutionRole
U = InstitutionKind.UNIVERSITY
RI = InstitutionKind.RESEARCH_INSTITUTE
GA = InstitutionKind.GOVERNMENT_AGENCY
MIN = InstitutionKind.MINISTRY
IO = InstitutionKind.INTERNATIONAL_ORGANISATION
CO = InstitutionKind.COMPANY
NGO = InstitutionKind.NGO

DEMO_SEED = 2008  # SATREPS started in fiscal year 2008
REFERENCE_DATE = dt.date(2026, 11, 1)
ROOT_FIELDS = ("environment-energy", "bioresources", "disaster-prevention", "infectious-diseases")
SCALED_THEME_PREFIX = "bench-theme-"


class DemoDataExists(RuntimeError):
    """The demo (or benchmark) graph is already loaded: seeding again would duplicate it."""


# ---- institutions --------------------------------------------------------------------


@dataclass(frozen=True)
class InstitutionSpec:
    key: str
    country: str
    kind: InstitutionKind
    name_en: str
    name_local: str | None = None
    acronym: str | None = None
    ror_id: str | None = None
    website: str | None = None


I = InstitutionSpec  # noqa: E741 - a short name keeps the catalogue readable
# fmt: off
INSTITUTIONS: tuple[InstitutionSpec, ...] = (
    # Japan
    I("utokyo", "JP", U, "The University of Tokyo", "東京大学", "UTokyo", "057zh3y96",
      "https://www.u-tokyo.ac.jp"),
    I("kyoto", "JP", U, "Kyoto University", "京都大学", "KyotoU", "02kpeqv85",
      "https://www.kyoto-u.ac.jp"),
    I("tohoku", "JP", U, "Tohoku University", "東北大学", None, None, "https://www.tohoku.ac.jp"),
    I("hokudai", "JP", U, "Hokkaido University", "北海道大学", None, None,
      "https://www.hokudai.ac.jp"),
    I("nagasaki", "JP", U, "Nagasaki University", "長崎大学", None, None,
      "https://www.nagasaki-u.ac.jp"),
    I("osaka", "JP", U, "Osaka University", "大阪大学", None, None, "https://www.osaka-u.ac.jp"),
    I("nagoya", "JP", U, "Nagoya University", "名古屋大学", None, None,
      "https://www.nagoya-u.ac.jp"),
    I("kyushu", "JP", U, "Kyushu University", "九州大学", None, None,
      "https://www.kyushu-u.ac.jp"),
    I("hiroshima", "JP", U, "Hiroshima University", "広島大学"),
    I("kobe", "JP", U, "Kobe University", "神戸大学"),
    I("tsukuba", "JP", U, "University of Tsukuba", "筑波大学"),
    I("obihiro", "JP", U, "Obihiro University of Agriculture and Veterinary Medicine",
      "帯広畜産大学"),
    I("tuat", "JP", U, "Tokyo University of Agriculture and Technology", "東京農工大学", "TUAT"),
    I("ehime", "JP", U, "Ehime University", "愛媛大学"),
    I("jamstec", "JP", RI, "Japan Agency for Marine-Earth Science and Technology",
      "海洋研究開発機構", "JAMSTEC", None, "https://www.jamstec.go.jp"),
    I("nies", "JP", RI, "National Institute for Environmental Studies", "国立環境研究所",
      "NIES", None, "https://www.nies.go.jp"),
    I("jircas", "JP", RI, "Japan International Research Center for Agricultural Sciences",
      "国際農林水産業研究センター", "JIRCAS", None, "https://www.jircas.go.jp"),
    I("nied", "JP", RI, "National Research Institute for Earth Science and Disaster Resilience",
      "防災科学技術研究所", "NIED", None, "https://www.bosai.go.jp"),
    I("pwri", "JP", RI, "Public Works Research Institute", "土木研究所", "PWRI"),
    I("jihs", "JP", RI, "Japan Institute for Health Security", "国立健康危機管理研究機構",
      "JIHS"),
    I("jma", "JP", GA, "Japan Meteorological Agency", "気象庁", "JMA"),
    I("nippon-koei", "JP", CO, "Nippon Koei Co., Ltd.", "日本工営株式会社"),
    # Asia
    I("chula", "TH", U, "Chulalongkorn University", "จุฬาลงกรณ์มหาวิทยาลัย", "CU", None,
      "https://www.chula.ac.th"),
    I("kasetsart", "TH", U, "Kasetsart University", "มหาวิทยาลัยเกษตรศาสตร์", "KU", None,
      "https://www.ku.ac.th"),
    I("mahidol", "TH", U, "Mahidol University", "มหาวิทยาลัยมหิดล", "MU"),
    I("mnre", "TH", MIN, "Ministry of Natural Resources and Environment",
      "กระทรวงทรัพยากรธรรมชาติและสิ่งแวดล้อม", "MNRE"),
    I("ait", "TH", IO, "Asian Institute of Technology", None, "AIT"),
    I("vnu", "VN", U, "Vietnam National University, Hanoi", "Đại học Quốc gia Hà Nội", "VNU"),
    I("hust", "VN", U, "Hanoi University of Science and Technology", "Đại học Bách khoa Hà Nội",
      "HUST"),
    I("nihe", "VN", RI, "National Institute of Hygiene and Epidemiology",
      "Viện Vệ sinh Dịch tễ Trung ương", "NIHE"),
    I("itb", "ID", U, "Bandung Institute of Technology", "Institut Teknologi Bandung", "ITB",
      None, "https://www.itb.ac.id"),
    I("ugm", "ID", U, "Gadjah Mada University", "Universitas Gadjah Mada", "UGM", None,
      "https://ugm.ac.id"),
    I("ipb", "ID", U, "IPB University", "Institut Pertanian Bogor", "IPB"),
    I("brin", "ID", GA, "National Research and Innovation Agency",
      "Badan Riset dan Inovasi Nasional", "BRIN"),
    I("upd", "PH", U, "University of the Philippines Diliman", None, "UPD"),
    I("phivolcs", "PH", GA, "Philippine Institute of Volcanology and Seismology", None,
      "PHIVOLCS"),
    I("ritm", "PH", RI, "Research Institute for Tropical Medicine", None, "RITM"),
    I("irri", "PH", IO, "International Rice Research Institute", None, "IRRI"),
    I("um", "MY", U, "Universiti Malaya", None, "UM"),
    I("upm", "MY", U, "Universiti Putra Malaysia", None, "UPM"),
    I("utm", "MY", U, "Universiti Teknologi Malaysia", None, "UTM"),
    I("yu", "MM", U, "University of Yangon", "ရန်ကုန်တက္ကသိုလ်", "YU"),
    I("dmh", "MM", GA, "Department of Meteorology and Hydrology", None, "DMH"),
    I("itc", "KH", U, "Institute of Technology of Cambodia", "វិទ្យាស្ថានបច្ចេកវិទ្យាកម្ពុជា",
      "ITC"),
    I("rupp", "KH", U, "Royal University of Phnom Penh", "សាកលវិទ្យាល័យភូមិន្ទភ្នំពេញ", "RUPP"),
    I("nuol", "LA", U, "National University of Laos", "ມະຫາວິທະຍາໄລແຫ່ງຊາດ", "NUOL"),
    I("num", "MN", U, "National University of Mongolia", "Монгол Улсын Их Сургууль", "NUM"),
    I("muls", "MN", U, "Mongolian University of Life Sciences", "Хөдөө Аж Ахуйн Их Сургууль",
      "MULS"),
    I("du", "BD", U, "University of Dhaka", "ঢাকা বিশ্ববিদ্যালয়", "DU"),
    I("buet", "BD", U, "Bangladesh University of Engineering and Technology",
      "বাংলাদেশ প্রকৌশল বিশ্ববিদ্যালয়", "BUET"),
    I("icddrb", "BD", IO, "International Centre for Diarrhoeal Disease Research, Bangladesh",
      None, "icddr,b", None, "https://www.icddrb.org"),
    I("brac", "BD", NGO, "BRAC", None, "BRAC"),
    I("pera", "LK", U, "University of Peradeniya", "පේරාදෙණිය විශ්වවිද්‍යාලය"),
    I("mora", "LK", U, "University of Moratuwa", "මොරටුව විශ්වවිද්‍යාලය"),
    I("nbro", "LK", GA, "National Building Research Organisation", None, "NBRO"),
    I("iith", "IN", U, "Indian Institute of Technology Hyderabad",
      "भारतीय प्रौद्योगिकी संस्थान हैदराबाद", "IITH"),
    I("tu", "NP", U, "Tribhuvan University", "त्रिभुवन विश्वविद्यालय", "TU"),
    I("icimod", "NP", IO, "International Centre for Integrated Mountain Development", None,
      "ICIMOD"),
    I("nust", "PK", U, "National University of Sciences and Technology", None, "NUST"),
    I("pmd", "PK", GA, "Pakistan Meteorological Department", None, "PMD"),
    I("rub", "BT", U, "Royal University of Bhutan", None, "RUB"),
    I("nchm", "BT", GA, "National Center for Hydrology and Meteorology", None, "NCHM"),
    I("metu", "TR", U, "Middle East Technical University", "Orta Doğu Teknik Üniversitesi",
      "METU", None, "https://www.metu.edu.tr"),
    I("boun", "TR", U, "Bogazici University", "Boğaziçi Üniversitesi", "BOUN"),
    I("afad", "TR", GA, "Disaster and Emergency Management Authority",
      "Afet ve Acil Durum Yönetimi Başkanlığı", "AFAD"),
    # Africa
    I("uon", "KE", U, "University of Nairobi", None, "UoN"),
    I("jkuat", "KE", U, "Jomo Kenyatta University of Agriculture and Technology", None, "JKUAT"),
    I("kemri", "KE", RI, "Kenya Medical Research Institute", None, "KEMRI", None,
      "https://www.kemri.go.ke"),
    I("kengen", "KE", CO, "Kenya Electricity Generating Company", None, "KenGen"),
    I("ilri", "KE", IO, "International Livestock Research Institute", None, "ILRI"),
    I("sua", "TZ", U, "Sokoine University of Agriculture", "Chuo Kikuu cha Kilimo cha Sokoine",
      "SUA"),
    I("udsm", "TZ", U, "University of Dar es Salaam", "Chuo Kikuu cha Dar es Salaam", "UDSM"),
    I("aau", "ET", U, "Addis Ababa University", "አዲስ አበባ ዩኒቨርሲቲ", "AAU"),
    I("eiar", "ET", RI, "Ethiopian Institute of Agricultural Research",
      "የኢትዮጵያ ግብርና ምርምር ኢንስቲትዩት", "EIAR"),
    I("ug", "GH", U, "University of Ghana", None, "UG"),
    I("nmimr", "GH", RI, "Noguchi Memorial Institute for Medical Research", None, "NMIMR"),
    I("unza", "ZM", U, "University of Zambia", None, "UNZA"),
    I("moh-zm", "ZM", MIN, "Ministry of Health", None, "MOH"),
    I("up", "ZA", U, "University of Pretoria", "Universiteit van Pretoria", "UP"),
    I("csir", "ZA", RI, "Council for Scientific and Industrial Research", None, "CSIR"),
    I("uy1", "CM", U, "University of Yaoundé I", "Université de Yaoundé I", "UY1"),
    I("uob", "GA", U, "Omar Bongo University", "Université Omar Bongo", "UOB"),
    I("cirmf", "GA", RI, "Interdisciplinary Centre for Medical Research of Franceville",
      "Centre Interdisciplinaire de Recherches Médicales de Franceville", "CIRMF"),
    I("uem", "MZ", U, "Eduardo Mondlane University", "Universidade Eduardo Mondlane", "UEM"),
    I("ejust", "EG", U, "Egypt-Japan University of Science and Technology",
      "الجامعة المصرية اليابانية للعلوم والتكنولوجيا", "E-JUST"),
    I("cu-eg", "EG", U, "Cairo University", "جامعة القاهرة", "CU"),
    I("um5", "MA", U, "Mohammed V University in Rabat", "جامعة محمد الخامس بالرباط", "UM5"),
    I("utm-tn", "TN", U, "University of Tunis El Manar", "Université de Tunis El Manar", "UTM"),
    I("cbbc", "TN", RI, "Centre of Biotechnology of Borj Cedria",
      "Centre de Biotechnologie de Borj Cédria", "CBBC"),
    I("iita", "NG", IO, "International Institute of Tropical Agriculture", None, "IITA"),
    # Latin America
    I("usp", "BR", U, "University of São Paulo", "Universidade de São Paulo", "USP"),
    I("embrapa", "BR", GA, "Brazilian Agricultural Research Corporation",
      "Empresa Brasileira de Pesquisa Agropecuária", "Embrapa", None, "https://www.embrapa.br"),
    I("inpa", "BR", RI, "National Institute of Amazonian Research",
      "Instituto Nacional de Pesquisas da Amazônia", "INPA"),
    I("unam", "MX", U, "National Autonomous University of Mexico",
      "Universidad Nacional Autónoma de México", "UNAM", None, "https://www.unam.mx"),
    I("uni", "PE", U, "National University of Engineering", "Universidad Nacional de Ingeniería",
      "UNI"),
    I("igp", "PE", RI, "Geophysical Institute of Peru", "Instituto Geofísico del Perú", "IGP"),
    I("uchile", "CL", U, "University of Chile", "Universidad de Chile", "UCH", None,
      "https://www.uchile.cl"),
    I("puc", "CL", U, "Pontifical Catholic University of Chile",
      "Pontificia Universidad Católica de Chile", "UC"),
    I("unal", "CO", U, "National University of Colombia", "Universidad Nacional de Colombia",
      "UNAL"),
    I("ciat", "CO", IO, "International Center for Tropical Agriculture",
      "Centro Internacional de Agricultura Tropical", "CIAT"),
    I("umsa", "BO", U, "Higher University of San Andrés", "Universidad Mayor de San Andrés",
      "UMSA"),
    I("uba", "AR", U, "University of Buenos Aires", "Universidad de Buenos Aires", "UBA"),
    I("epn", "EC", U, "National Polytechnic School", "Escuela Politécnica Nacional", "EPN"),
)
# fmt: on
INSTITUTION_BY_KEY: dict[str, InstitutionSpec] = {i.key: i for i in INSTITUTIONS}


# ---- people --------------------------------------------------------------------------

Name = tuple[str, str]  # (English spelling, local spelling)
_ASCII_FOLD = str.maketrans({"đ": "d", "Đ": "D", "ı": "i", "ø": "o", "ł": "l", "ß": "ss"})


def ascii_fold(text: str) -> str:
    """'Nguyễn Đức' -> 'Nguyen Duc', 'Yılmaz' -> 'Yilmaz'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _latin(*names: str) -> tuple[Name, ...]:
    """Latin-script names: English is the ASCII spelling, local keeps the diacritics."""
    return tuple((ascii_fold(n), n) for n in names)


@dataclass(frozen=True)
class NamePool:
    """Names of one country: given x family, or a list of full names where that fits better."""

    given: tuple[Name, ...] = ()
    family: tuple[Name, ...] = ()
    full: tuple[Name, ...] = ()
    family_first_en: bool = False
    family_first_local: bool = False
    local_sep: str = " "

    def draw(self, rng: random.Random) -> tuple[str, str | None]:
        if self.full:
            en, local = rng.choice(self.full)
        else:
            (given_en, given_local), (family_en, family_local) = (
                rng.choice(self.given),
                rng.choice(self.family),
            )
            en = " ".join((family_en, given_en) if self.family_first_en else (given_en, family_en))
            local = self.local_sep.join(
                (family_local, given_local)
                if self.family_first_local
                else (given_local, family_local)
            )
        return en, (local if local != en else None)


# fmt: off
NAME_POOLS: dict[str, NamePool] = {
    "JP": NamePool(
        given=(("Hiroshi", "浩"), ("Takeshi", "健"), ("Yuki", "由紀"), ("Akiko", "明子"),
               ("Kenji", "健二"), ("Naoko", "直子"), ("Satoshi", "聡"), ("Emi", "恵美"),
               ("Daisuke", "大輔"), ("Mai", "麻衣"), ("Makoto", "誠"), ("Keiko", "恵子"),
               ("Tomoko", "智子"), ("Shinji", "真司"), ("Ryo", "亮"), ("Haruka", "遥"),
               ("Kazuya", "和也"), ("Yoko", "洋子")),
        family=(("Sato", "佐藤"), ("Suzuki", "鈴木"), ("Takahashi", "高橋"), ("Tanaka", "田中"),
                ("Watanabe", "渡辺"), ("Ito", "伊藤"), ("Yamamoto", "山本"),
                ("Nakamura", "中村"), ("Kobayashi", "小林"), ("Kato", "加藤"),
                ("Yoshida", "吉田"), ("Yamada", "山田"), ("Sasaki", "佐々木"),
                ("Matsumoto", "松本"), ("Inoue", "井上"), ("Kimura", "木村"), ("Hayashi", "林"),
                ("Shimizu", "清水"), ("Mori", "森"), ("Ikeda", "池田"), ("Hashimoto", "橋本"),
                ("Ishikawa", "石川"), ("Ogawa", "小川"), ("Okada", "岡田"), ("Fujita", "藤田"),
                ("Nishimura", "西村"), ("Kondo", "近藤"), ("Murakami", "村上")),
        family_first_local=True,
    ),
    "TH": NamePool(
        given=(("Somchai", "สมชาย"), ("Suda", "สุดา"), ("Prasert", "ประเสริฐ"), ("Wipha", "วิภา"),
               ("Nattapong", "ณัฐพงศ์"), ("Kanokwan", "กนกวรรณ")),
        family=(("Srisuk", "ศรีสุข"), ("Wongsawat", "วงศ์สวัสดิ์"), ("Kaewmanee", "แก้วมณี"),
                ("Boonma", "บุญมา"), ("Charoenrat", "เจริญรัตน์")),
    ),
    "VN": NamePool(
        given=_latin("Văn Minh", "Thị Lan", "Đức Anh", "Thị Hương", "Quang Huy", "Minh Châu",
                     "Hoàng Nam"),
        family=_latin("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng"),
        family_first_en=True,
        family_first_local=True,
    ),
    "ID": NamePool(
        given=_latin("Budi", "Siti", "Agus", "Rina", "Dwi", "Eko", "Intan", "Fajar"),
        family=_latin("Santoso", "Rahmawati", "Wijaya", "Kusuma", "Hidayat", "Saputra",
                      "Pratama", "Nugroho"),
    ),
    "PH": NamePool(
        given=_latin("Maria", "Jose", "Ana", "Ramon", "Cristina", "Paolo"),
        family=_latin("Santos", "Reyes", "Cruz", "Bautista", "Garcia", "Mendoza", "Villanueva"),
    ),
    "MY": NamePool(
        full=(("Ahmad Faizal bin Ismail", "Ahmad Faizal bin Ismail"),
              ("Nurul Huda binti Hassan", "Nurul Huda binti Hassan"),
              ("Siti Aminah binti Omar", "Siti Aminah binti Omar"),
              ("Muhammad Hafiz bin Rahman", "Muhammad Hafiz bin Rahman"),
              ("Tan Wei Ming", "陈伟明"), ("Lim Mei Ling", "林美玲"), ("Wong Kah Yee", "黄嘉仪")),
    ),
    "MM": NamePool(
        full=(("Aung Kyaw Win", "အောင်ကျော်ဝင်း"), ("Thida Win", "သီတာဝင်း"),
              ("Myo Min Tun", "မျိုးမင်းထွန်း"), ("Khin Maung Aye", "ခင်မောင်အေး"),
              ("Su Su Hlaing", "စုစုလှိုင်")),
    ),
    "KH": NamePool(
        given=(("Dara", "ដារា"), ("Sophea", "សុភា"), ("Vanna", "វណ្ណា"), ("Sokha", "សុខា")),
        family=(("Sok", "សុខ"), ("Chan", "ចាន់"), ("Keo", "កែវ"), ("Heng", "ហេង"), ("Lim", "លឹម")),
        family_first_en=True,
        family_first_local=True,
    ),
    "LA": NamePool(
        given=_latin("Khamphone", "Souksavanh", "Vilayvanh", "Somphone", "Bounmy"),
        family=_latin("Sisouk", "Phommachanh", "Sayavong", "Keomany", "Inthavong"),
    ),
    "MN": NamePool(
        full=(("Ganbold Batbayar", "Батбаярын Ганболд"), ("Enkhtuya Dorj", "Доржийн Энхтуяа"),
              ("Oyunchimeg Bold", "Болдын Оюунчимэг"),
              ("Tsetseg Sukhbaatar", "Сүхбаатарын Цэцэг"),
              ("Bat-Erdene Ganbold", "Ганболдын Бат-Эрдэнэ")),
    ),
    "BD": NamePool(
        given=(("Rahim", "রহিম"), ("Fatema", "ফাতেমা"), ("Kamal", "কামাল"), ("Nasrin", "নাসরিন"),
               ("Tanvir", "তানভীর"), ("Sharmin", "শারমিন")),
        family=(("Hossain", "হোসেন"), ("Rahman", "রহমান"), ("Islam", "ইসলাম"),
                ("Chowdhury", "চৌধুরী")),
    ),
    "LK": NamePool(
        given=(("Nimal", "නිමල්"), ("Kumari", "කුමාරි"), ("Chaminda", "චමින්ද"),
               ("Dilani", "දිලානි"), ("Ruwan", "රුවන්")),
        family=(("Perera", "පෙරේරා"), ("Silva", "සිල්වා"), ("Jayasinghe", "ජයසිංහ"),
                ("Wickramasinghe", "වික්‍රමසිංහ")),
    ),
    "IN": NamePool(
        given=(("Rajesh", "राजेश"), ("Priya", "प्रिया"), ("Anil", "अनिल"), ("Sunita", "सुनीता"),
               ("Vikram", "विक्रम"), ("Deepa", "दीपा")),
        family=(("Kumar", "कुमार"), ("Sharma", "शर्मा"), ("Verma", "वर्मा"), ("Rao", "राव"),
                ("Reddy", "रेड्डी"), ("Iyer", "अय्यर")),
    ),
    "NP": NamePool(
        given=(("Ram Prasad", "राम प्रसाद"), ("Sita", "सीता"), ("Bikash", "विकास"),
               ("Sabina", "सबिना"), ("Suman", "सुमन")),
        family=(("Shrestha", "श्रेष्ठ"), ("Adhikari", "अधिकारी"), ("Thapa", "थापा"),
                ("Gurung", "गुरुङ"), ("Karki", "कार्की")),
    ),
    "PK": NamePool(
        given=(("Muhammad Asif", "محمد آصف"), ("Ayesha", "عائشہ"), ("Imran", "عمران"),
               ("Sana", "ثنا"), ("Bilal", "بلال")),
        family=(("Khan", "خان"), ("Ali", "علی"), ("Ahmed", "احمد"), ("Qureshi", "قریشی"),
                ("Malik", "ملک")),
    ),
    "BT": NamePool(
        full=(("Karma Wangchuk", "ཀརྨ་དབང་ཕྱུག"), ("Tshering Dorji", "ཚེ་རིང་རྡོ་རྗེ"),
              ("Pema Choden", "པདྨ་ཆོས་སྒྲོན"), ("Sonam Tshering", "བསོད་ནམས་ཚེ་རིང")),
    ),
    "TR": NamePool(
        given=_latin("Mehmet", "Ayşe", "Emre", "Zeynep", "Burak", "Elif"),
        family=_latin("Yılmaz", "Kaya", "Şahin", "Demir", "Çelik", "Aydın"),
    ),
    "KE": NamePool(
        given=_latin("James", "Grace", "Peter", "Mary", "Daniel", "Faith"),
        family=_latin("Mwangi", "Wanjiru", "Otieno", "Achieng", "Kiprop", "Mutua"),
    ),
    "TZ": NamePool(
        given=_latin("Juma", "Neema", "Baraka", "Rehema", "Emmanuel"),
        family=_latin("Mohamed", "Mushi", "Mollel", "Kimaro", "Massawe"),
    ),
    "ET": NamePool(
        given=(("Abebe", "አበበ"), ("Meron", "ሜሮን"), ("Dawit", "ዳዊት"), ("Hana", "ሃና"),
               ("Yonas", "ዮናስ"), ("Selam", "ሰላም")),
        family=(("Bekele", "በቀለ"), ("Tesfaye", "ተስፋዬ"), ("Alemu", "አለሙ"), ("Haile", "ኃይሌ"),
                ("Girma", "ግርማ")),
    ),
    "GH": NamePool(
        given=_latin("Kwame", "Akosua", "Kofi", "Ama", "Yaw", "Efua"),
        family=_latin("Mensah", "Boateng", "Asante", "Owusu", "Appiah"),
    ),
    "ZM": NamePool(
        given=_latin("Mwila", "Chipo", "Bwalya", "Mutale", "Lombe"),
        family=_latin("Banda", "Phiri", "Mulenga", "Zulu", "Tembo"),
    ),
    "ZA": NamePool(
        given=_latin("Thabo", "Lindiwe", "Johan", "Nomvula", "Pieter", "Ayesha"),
        family=_latin("Nkosi", "Dlamini", "van der Merwe", "Botha", "Naidoo", "Mokoena"),
    ),
    "CM": NamePool(
        given=_latin("Jean-Paul", "Marie", "Serge", "Aline", "Hervé"),
        family=_latin("Ngono", "Fotso", "Mbarga", "Tchoupo", "Essomba"),
    ),
    "GA": NamePool(
        given=_latin("Pierre", "Clarisse", "Léa", "Arnaud"),
        family=_latin("Ndong", "Mba", "Obame", "Nzé"),
    ),
    "MZ": NamePool(
        given=_latin("João", "Ana", "Carlos", "Lúcia", "Armando"),
        family=_latin("Macuácua", "Sitoe", "Cossa", "Nhantumbo", "Mabunda"),
    ),
    "NG": NamePool(
        given=_latin("Chinedu", "Ngozi", "Oluwaseun", "Aisha", "Emeka"),
        family=_latin("Okafor", "Adeyemi", "Bello", "Eze", "Ogunleye"),
    ),
    "EG": NamePool(
        given=(("Ahmed", "أحمد"), ("Mona", "منى"), ("Mohamed", "محمد"), ("Nour", "نور"),
               ("Omar", "عمر"), ("Heba", "هبة")),
        family=(("Hassan", "حسن"), ("Farouk", "فاروق"), ("Abdel-Rahman", "عبد الرحمن"),
                ("Mostafa", "مصطفى"), ("El-Sayed", "السيد")),
    ),
    "MA": NamePool(
        given=(("Youssef", "يوسف"), ("Fatima Zahra", "فاطمة الزهراء"), ("Karim", "كريم"),
               ("Salma", "سلمى"), ("Hamza", "حمزة")),
        family=(("El Amrani", "العمراني"), ("Benali", "بنعلي"), ("Alaoui", "العلوي"),
                ("Bennani", "بناني"), ("Tazi", "التازي")),
    ),
    "TN": NamePool(
        given=(("Sami", "سامي"), ("Amira", "أميرة"), ("Mehdi", "مهدي"), ("Ines", "إيناس"),
               ("Walid", "وليد")),
        family=(("Ben Salah", "بن صالح"), ("Jlassi", "الجلاصي"), ("Gharbi", "الغربي"),
                ("Hammami", "الحمامي"), ("Ayari", "العياري")),
    ),
    "BR": NamePool(
        given=_latin("João", "Ana Paula", "Luís", "Mariana", "Rafael", "Beatriz"),
        family=_latin("Silva", "Oliveira", "Ferreira", "Costa", "Souza", "Pereira"),
    ),
    "MX": NamePool(
        given=_latin("José", "María", "Alejandro", "Guadalupe", "Fernando", "Sofía"),
        family=_latin("Hernández", "González", "Ramírez", "López", "Martínez", "Flores"),
    ),
    "PE": NamePool(
        given=_latin("Carlos", "Rosa", "Luis", "Milagros", "Jorge"),
        family=_latin("Quispe", "Mamani", "Flores", "Huamán", "Rojas"),
    ),
    "CL": NamePool(
        given=_latin("Felipe", "Camila", "Andrés", "Valentina", "Matías"),
        family=_latin("Muñoz", "Rojas", "Soto", "Contreras", "Araya"),
    ),
    "CO": NamePool(
        given=_latin("Juan Carlos", "Laura", "Andrés Felipe", "Natalia", "Santiago"),
        family=_latin("Rodríguez", "Martínez", "Gómez", "Restrepo", "Ospina"),
    ),
    "BO": NamePool(
        given=_latin("Marco", "Elena", "Wilson", "Ximena", "René"),
        family=_latin("Choque", "Condori", "Mamani", "Vargas", "Gutiérrez"),
    ),
    "AR": NamePool(
        given=_latin("Martín", "Sofía", "Diego", "Lucía", "Pablo"),
        family=_latin("Fernández", "López", "Giménez", "Romero", "Sosa"),
    ),
    "EC": NamePool(
        given=_latin("Diego", "Paola", "Andrés", "Gabriela", "Xavier"),
        family=_latin("Guerrero", "Andrade", "Cevallos", "Villacís", "Zambrano"),
    ),
}
# fmt: on


# ---- projects ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectSpec:
    """A project as written down: who leads, who takes part, how far it got."""

    acronym: str
    title: str
    theme: str
    countries: tuple[str, ...]
    japanese: tuple[str, ...]  # institution keys, the lead first
    partners: tuple[str, ...]  # institution keys, the lead first
    phase: ProjectPhase
    third: tuple[str, ...] = ()
    withdrawn_after: ProjectPhase = ProjectPhase.PLANNING


def _spec(
    acronym: str,
    theme: str,
    phase: ProjectPhase,
    countries: str,
    japanese: str,
    partners: str,
    title: str,
    third: str = "",
    withdrawn_after: ProjectPhase = ProjectPhase.PLANNING,
) -> ProjectSpec:
    return ProjectSpec(
        acronym=acronym,
        title=title,
        theme=theme,
        countries=tuple(countries.split()),
        japanese=tuple(japanese.split()),
        partners=tuple(partners.split()),
        phase=phase,
        third=tuple(third.split()),
        withdrawn_after=withdrawn_after,
    )


GE, CN, BIO = "global-environment", "carbon-neutral-energy", "bioresources"
DIS, INF = "disaster-prevention", "infectious-diseases"
# fmt: off
PROJECTS: tuple[ProjectSpec, ...] = (
    # Environment and energy: global-scale environmental issues
    _spec("CORAL-TRIANGLE", GE, P.IMPLEMENTATION, "ID PH", "jamstec utokyo", "brin upd",
          "Resilience of Coral Reef Ecosystems to Ocean Warming in the Coral Triangle"),
    _spec("MEKONG-IWRM", GE, P.COMPLETED, "TH VN KH LA", "kyoto nippon-koei",
          "chula hust itc nuol",
          "Integrated Water Resources Management for Climate Adaptation in the Lower Mekong"),
    _spec("PEAT-FIRE", GE, P.EX_POST_EVALUATED, "ID", "hokudai nies", "ipb brin",
          "Fire Prevention and Carbon Management in Tropical Peat Swamp Forests"),
    _spec("STEPPE", GE, P.FOLLOW_UP, "MN", "tsukuba", "muls num",
          "Rangeland Management against Desertification in the Mongolian Steppe"),
    _spec("AMAZON-CARBON", GE, P.EX_POST_EVALUATED, "BR", "nies kyoto", "inpa usp",
          "Carbon Dynamics of Amazonian Forests under Land-use Change"),
    _spec("DHAKA-AIR", GE, P.IMPLEMENTATION, "BD", "nies osaka", "du buet",
          "Urban Air Pollution Monitoring and Health Impact Assessment in Dhaka"),
    _spec("GULF-PLASTICS", GE, P.PLANNING, "TH", "kyushu ehime", "kasetsart mnre",
          "Sources and Transport of Marine Microplastics in the Gulf of Thailand"),
    _spec("MANGROVE-MZ", GE, P.REQUESTED, "MZ", "tohoku", "uem",
          "Mangrove Restoration for Coastal Carbon and Livelihoods in Central Mozambique"),
    _spec("TERAI-ARSENIC", GE, P.IDENTIFICATION, "NP", "hokudai", "tu",
          "Groundwater Arsenic Mitigation and Safe Drinking Water in the Terai Plain"),
    # Environment and energy: carbon neutral society
    _spec("RIFT-GEOTHERMAL", CN, P.IMPLEMENTATION, "KE ET", "kyushu tohoku", "uon kengen aau",
          "Geothermal Reservoir Characterisation for Sustainable Power in the East African Rift"),
    _spec("SOLAR-DESAL", CN, P.APPROVED, "EG", "osaka", "ejust cu-eg",
          "Solar-driven Desalination and Green Hydrogen for Arid Regions"),
    _spec("BIOREFINERY-TH", CN, P.EX_POST_EVALUATED, "TH", "hiroshima", "mahidol kasetsart",
          "Biorefinery of Agricultural Residues for Bio-based Chemicals and Fuels"),
    _spec("SMART-GRID-VN", CN, P.IMPLEMENTATION, "VN", "utokyo nagoya", "hust vnu",
          "Smart Grids and Renewable Energy Integration for Low-carbon Cities"),
    _spec("ANDES-HYDRO", CN, P.COMPLETED, "PE", "nagoya", "uni",
          "Small Hydropower and Rural Electrification in the Peruvian Andes"),
    _spec("EV-BATTERY", CN, P.IMPLEMENTATION, "IN", "tohoku kyushu", "iith",
          "Battery Materials and Recycling for Electric Two-wheelers"),
    _spec("POME-BIOGAS", CN, P.EX_POST_EVALUATED, "MY", "kyushu", "upm utm",
          "Biogas and Biomethane from Palm Oil Mill Effluent"),
    _spec("ATACAMA-H2", CN, P.REQUESTED, "CL", "utokyo", "uchile",
          "Green Hydrogen from Solar Resources in the Atacama Region"),
    _spec("KAROO-CCS", CN, P.WITHDRAWN, "ZA", "kyoto", "csir up",
          "Geological Carbon Storage in South African Sedimentary Basins",
          withdrawn_after=P.PLANNING),
    _spec("HERDER-GRID", CN, P.IDENTIFICATION, "MN", "tuat", "num",
          "Wind and Solar Microgrids for Herder Communities"),
    # Bioresources
    _spec("RICE-DROUGHT", BIO, P.IMPLEMENTATION, "GH", "jircas nagoya", "ug",
          "Drought-tolerant Rice for Smallholder Farmers in West Africa", third="iita irri"),
    _spec("CASSAVA-SEED", BIO, P.COMPLETED, "VN KH", "tuat utokyo", "vnu rupp",
          "Cassava Disease Diagnostics and Clean Seed Systems", third="ciat"),
    _spec("PH-AQUACULTURE", BIO, P.FOLLOW_UP, "PH", "hokudai ehime", "upd",
          "Sustainable Aquaculture of Native Species for Coastal Communities"),
    _spec("KE-SOIL", BIO, P.PLANNING, "KE", "jircas kyoto", "jkuat ilri",
          "Soil Fertility Management and Crop Diversification for Food Security"),
    _spec("ANDEAN-GENES", BIO, P.APPROVED, "BO", "tsukuba", "umsa",
          "Conservation and Use of Andean Crop Genetic Resources"),
    _spec("MN-LIVESTOCK", BIO, P.EX_POST_EVALUATED, "MN", "obihiro", "muls",
          "Livestock Disease Control and Value Chains for Nomadic Herders"),
    _spec("CONGO-NTFP", BIO, P.IMPLEMENTATION, "CM GA", "kyoto", "uy1 uob",
          "Non-timber Forest Products and Community Forestry in the Congo Basin"),
    _spec("VICTORIA-FISH", BIO, P.REQUESTED, "TZ KE", "ehime", "udsm uon",
          "Fisheries Resource Assessment and Management in Lake Victoria"),
    _spec("SALINE-AGRI", BIO, P.COMPLETED, "TN", "tsukuba", "utm-tn cbbc",
          "Halophytes and Microalgae for Saline Agriculture"),
    _spec("TEFF-GENOMICS", BIO, P.REJECTED, "ET", "jircas", "eiar aau",
          "Genomics-assisted Breeding of Teff for Climate Resilience"),
    _spec("ICLF-BRAZIL", BIO, P.IMPLEMENTATION, "BR", "hokudai", "embrapa usp",
          "Integrated Crop-Livestock-Forest Systems for Degraded Pastures"),
    # Disaster prevention and mitigation
    _spec("MARMARA-QUAKE", DIS, P.EX_POST_EVALUATED, "TR", "nied kyoto", "boun metu afad",
          "Earthquake and Tsunami Hazard Assessment for the Marmara Region"),
    _spec("CL-TSUNAMI", DIS, P.COMPLETED, "CL", "tohoku pwri", "puc uchile",
          "Tsunami Early Warning and Resilient Coastal Cities"),
    _spec("PH-VOLCANO", DIS, P.FOLLOW_UP, "PH", "utokyo kyoto", "phivolcs upd",
          "Volcanic Eruption Forecasting and Lahar Risk Reduction"),
    _spec("LK-LANDSLIDE", DIS, P.IMPLEMENTATION, "LK", "kyoto pwri", "nbro pera mora",
          "Rain-induced Landslide Early Warning in the Central Highlands"),
    _spec("JAMUNA-FLOOD", DIS, P.PLANNING, "BD", "pwri utokyo", "buet",
          "Riverbank Erosion and Flood Forecasting on the Brahmaputra-Jamuna"),
    _spec("BT-GLOF", DIS, P.COMPLETED, "BT", "nagoya", "nchm rub",
          "Glacial Lake Outburst Flood Risk in the Bhutan Himalaya", third="icimod"),
    _spec("LIMA-SEISMIC", DIS, P.EX_POST_EVALUATED, "PE", "kobe nied", "igp uni",
          "Seismic Risk Assessment and Building Retrofit for Metropolitan Lima"),
    _spec("GUERRERO-GAP", DIS, P.APPROVED, "MX", "kyoto jamstec", "unam",
          "Subduction Earthquake Monitoring in the Guerrero Seismic Gap"),
    _spec("MA-DROUGHT", DIS, P.IDENTIFICATION, "MA", "kobe", "um5",
          "Drought Early Warning and Water-saving Agriculture"),
    _spec("DELTA-SURGE", DIS, P.WITHDRAWN, "MM", "kyushu jma", "yu dmh",
          "Storm Surge and Cyclone Early Warning in the Ayeyarwady Delta",
          withdrawn_after=P.APPROVED),
    _spec("EC-VOLCANO", DIS, P.REQUESTED, "EC", "nied", "epn",
          "Volcanic Hazards and Ash Dispersal in the Ecuadorian Andes"),
    _spec("BOGOTA-FLOOD", DIS, P.IDENTIFICATION, "CO", "pwri", "unal",
          "Urban Flood Resilience in the Bogota Savanna"),
    _spec("INDUS-FLOOD", DIS, P.IMPLEMENTATION, "PK", "jamstec utokyo", "pmd nust",
          "Monsoon Prediction and Flood Forecasting in the Indus Basin"),
    # Infectious diseases control
    _spec("MALARIA-ISLANDS", INF, P.IMPLEMENTATION, "KE", "nagasaki", "kemri",
          "Malaria Elimination on the Islands of Lake Victoria"),
    _spec("ARBO-VN", INF, P.COMPLETED, "VN", "osaka nagasaki", "nihe",
          "Dengue and Arbovirus Surveillance with Rapid Diagnostics"),
    _spec("TB-ZAMBIA", INF, P.FOLLOW_UP, "ZM", "hokudai", "unza moh-zm",
          "Diagnostics and Surveillance of Drug-resistant Tuberculosis"),
    _spec("AMR-ONE-HEALTH", INF, P.IMPLEMENTATION, "TH", "osaka", "mahidol chula",
          "One Health Surveillance of Antimicrobial Resistance", third="icddrb"),
    _spec("NTD-NATPROD", INF, P.EX_POST_EVALUATED, "GH", "utokyo", "nmimr ug",
          "Drug Discovery from Natural Products for Neglected Tropical Diseases"),
    _spec("RABIES-PH", INF, P.IMPLEMENTATION, "PH", "tohoku", "ritm",
          "Rabies Elimination through a One Health Approach"),
    _spec("CHAGAS-AR", INF, P.REJECTED, "AR", "nagasaki", "uba",
          "Vector Control and Diagnostics for Chagas Disease"),
    _spec("ZOONOSIS-GA", INF, P.REQUESTED, "GA", "jihs hokudai", "cirmf",
          "Emerging Zoonotic Viruses at the Wildlife-Human Interface"),
    _spec("KALA-AZAR", INF, P.PLANNING, "BD NP", "jihs", "icddrb tu brac",
          "Visceral Leishmaniasis Diagnostics for Elimination in South Asia"),
)
# fmt: on


# ---- plans: pure, deterministic, checked ---------------------------------------------


@dataclass(frozen=True)
class PersonDraft:
    serial: int
    name_en: str
    name_local: str | None
    institution: str
    title: str
    since: dt.date
    email: str


@dataclass(frozen=True)
class StepDraft:
    from_phase: ProjectPhase | None
    to_phase: ProjectPhase
    at: dt.datetime
    note: str
    document_ref: str | None = None


@dataclass
class ProjectDraft:
    acronym: str
    title: str
    summary: str
    theme: str
    phase: ProjectPhase
    countries: tuple[str, ...]
    start_date: dt.date | None
    end_date: dt.date | None
    rd_signed_on: dt.date | None
    institutions: list[tuple[str, InstitutionRole]]
    members: list[tuple[PersonDraft, MemberRole]]
    history: list[StepDraft]


@dataclass(frozen=True)
class ThemeSpec:
    code: str
    name: str
    parent: str


MAIN_PATH = (
    P.IDENTIFICATION,
    P.REQUESTED,
    P.APPROVED,
    P.PLANNING,
    P.IMPLEMENTATION,
    P.COMPLETED,
    P.FOLLOW_UP,
    P.EX_POST_EVALUATED,
)
# Phases with a (planned or actual) project period, and those past the signed R/D.
DATED_PHASES = frozenset(MAIN_PATH[1:])
STARTED_PHASES = frozenset(MAIN_PATH[4:])
# Months from the project start at which each step happens (some depend on the duration).
_MONTHS_BEFORE_START = {
    P.IDENTIFICATION: -26,
    P.REQUESTED: -21,
    P.REJECTED: -16,
    P.APPROVED: -14,
    P.PLANNING: -9,
    P.IMPLEMENTATION: -1,  # the R/D is signed a month before the work starts
}
_NOTES = {
    P.IDENTIFICATION: "Project idea identified by the Japanese and partner research teams",
    P.REQUESTED: "Joint proposal submitted; official request made by the partner government",
    P.APPROVED: "Adopted by JST and JICA",
    P.PLANNING: "Detailed planning survey and ex-ante evaluation",
    P.IMPLEMENTATION: "Record of Discussions signed; joint research started",
    P.COMPLETED: "Terminal evaluation completed",
    P.FOLLOW_UP: "Follow-up cooperation to put the results into practice",
    P.EX_POST_EVALUATED: "Ex-post evaluation completed",
    P.REJECTED: "Not adopted in this selection round",
    P.WITHDRAWN: "Withdrawn by the applicants",
}


def phase_path(
    target: ProjectPhase,
    *,
    with_follow_up: bool = True,
    withdrawn_after: ProjectPhase = P.PLANNING,
) -> list[ProjectPhase]:
    """The phases a project goes through from identification to `target`, checked."""
    if target == P.REJECTED:
        path = [P.IDENTIFICATION, P.REQUESTED, P.REJECTED]
    elif target == P.WITHDRAWN:
        path = [*MAIN_PATH[: MAIN_PATH.index(withdrawn_after) + 1], P.WITHDRAWN]
    else:
        path = list(MAIN_PATH[: MAIN_PATH.index(target) + 1])
        if target == P.EX_POST_EVALUATED and not with_follow_up:
            path.remove(P.FOLLOW_UP)
    for before, after in itertools.pairwise(path):
        if after not in TRANSITIONS[before]:
            raise ValueError(f"no transition from {before.value} to {after.value}")
    return path


def _step_months(path: Sequence[ProjectPhase], duration: int) -> list[int]:
    after_start = {
        P.COMPLETED: duration,
        P.FOLLOW_UP: duration + 4,
        P.EX_POST_EVALUATED: duration + 36,
    }
    months: list[int] = []
    for phase in path:
        if phase == P.WITHDRAWN:
            months.append(months[-1] + 3)
        else:
            months.append(_MONTHS_BEFORE_START.get(phase, after_start.get(phase, 0)))
    return months


def _start_window(final: ProjectPhase, last_month: int, duration: int) -> tuple[int, int]:
    """How many months before REFERENCE_DATE the project may start, so that its last step
    is in the past and its next step (if any) is still in the future."""
    next_step = {
        P.IDENTIFICATION: _MONTHS_BEFORE_START[P.REQUESTED],
        P.REQUESTED: _MONTHS_BEFORE_START[P.APPROVED],
        P.APPROVED: _MONTHS_BEFORE_START[P.PLANNING],
        P.PLANNING: _MONTHS_BEFORE_START[P.IMPLEMENTATION],
        P.IMPLEMENTATION: duration,
        P.COMPLETED: duration + 25,  # ex-post evaluation not yet due
        P.FOLLOW_UP: duration + 36,
    }.get(final, last_month + 49)  # terminal: up to four years ago
    return last_month + 1, next_step - 1


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, min(day.day, 28))


def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def _listing(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def institution_roles(spec: ProjectSpec) -> list[tuple[str, InstitutionRole]]:
    """Roles from the spec's lists, checked against the countries of the institutions."""
    roles = [
        (spec.japanese[0], R.JAPANESE_LEAD),
        *((key, R.JAPANESE_PARTICIPANT) for key in spec.japanese[1:]),
        (spec.partners[0], R.PARTNER_LEAD),
        *((key, R.PARTNER_PARTICIPANT) for key in spec.partners[1:]),
        *((key, R.THIRD_COUNTRY) for key in spec.third),
    ]
    if "JP" in spec.countries:
        raise ValueError(f"{spec.acronym}: Japan cannot be a partner country")
    if len({key for key, _ in roles}) != len(roles):
        raise ValueError(f"{spec.acronym}: an institution is listed twice")
    for key, role in roles:
        country = INSTITUTION_BY_KEY[key].country
        ok = (
            country == "JP"
            if role in (R.JAPANESE_LEAD, R.JAPANESE_PARTICIPANT)
            else country in spec.countries
            if role in (R.PARTNER_LEAD, R.PARTNER_PARTICIPANT)
            else country != "JP" and country not in spec.countries
        )
        if not ok:
            raise ValueError(f"{spec.acronym}: {key} ({country}) cannot be {role.value}")
    return roles


class _Planner:
    """Turns specs into drafts: dates, history and people, drawn from one RNG."""

    REUSE = 0.2  # chance that a project role goes to someone already in the graph

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.roster: dict[str, list[PersonDraft]] = defaultdict(list)
        self.names: set[str] = set()
        self.serials = itertools.count(1)

    def project(self, spec: ProjectSpec, *, copy: int = 1) -> ProjectDraft:
        rng = self.rng
        roles = institution_roles(spec)
        path = phase_path(
            spec.phase, with_follow_up=rng.random() < 0.5, withdrawn_after=spec.withdrawn_after
        )
        duration = rng.choice((36, 48, 60, 60))
        months = _step_months(path, duration)
        lo, hi = _start_window(path[-1], months[-1], duration)
        start = add_months(REFERENCE_DATE.replace(day=1), -rng.randint(lo, hi))
        acronym = spec.acronym if copy == 1 else f"{spec.acronym}-{copy}"
        history = self._history(acronym, path, months, start)
        dated = spec.phase in DATED_PHASES
        return ProjectDraft(
            acronym=acronym,
            title=spec.title if copy == 1 else f"{spec.title} ({_ordinal(copy)} cohort)",
            summary=_summary(spec),
            theme=spec.theme,
            phase=spec.phase,
            countries=spec.countries,
            start_date=start if dated else None,
            end_date=add_months(start, duration) - dt.timedelta(days=1) if dated else None,
            rd_signed_on=_signed_on(history) if spec.phase in STARTED_PHASES else None,
            institutions=roles,
            members=self._members(spec, path),
            history=history,
        )

    def _history(
        self, acronym: str, path: Sequence[ProjectPhase], months: Sequence[int], start: dt.date
    ) -> list[StepDraft]:
        steps: list[StepDraft] = []
        for before, phase, month in zip([None, *path[:-1]], path, months, strict=True):
            day = add_months(start, month) + dt.timedelta(days=self.rng.randint(0, 20))
            at = dt.datetime.combine(day, dt.time(self.rng.randint(0, 8), 30), tzinfo=dt.UTC)
            steps.append(StepDraft(before, phase, at, _NOTES[phase], _document(acronym, phase, at)))
        return steps

    def _members(
        self, spec: ProjectSpec, path: Sequence[ProjectPhase]
    ) -> list[tuple[PersonDraft, MemberRole]]:
        wanted: list[tuple[str, MemberRole, bool]] = [
            (spec.japanese[0], MemberRole.JAPANESE_PI, True),
            (spec.partners[0], MemberRole.PARTNER_PI, True),
        ]
        if P.APPROVED in path:
            wanted += [(key, MemberRole.COUNTERPART, False) for key in spec.partners[:2]]
            wanted += [(key, MemberRole.MEMBER, False) for key in spec.japanese[:2]]
            wanted += [(key, MemberRole.MEMBER, False) for key in spec.third]
        if P.IMPLEMENTATION in path:
            wanted.append((self.rng.choice(spec.japanese), MemberRole.EXPERT, False))
        chosen: list[tuple[PersonDraft, MemberRole]] = []
        for key, role, senior in wanted:
            person = self.person(key, senior=senior, exclude={p for p, _ in chosen})
            chosen.append((person, role))
        return chosen

    def person(self, institution: str, *, senior: bool, exclude: set[PersonDraft]) -> PersonDraft:
        known = [p for p in self.roster[institution] if p not in exclude]
        if known and self.rng.random() < self.REUSE:
            return self.rng.choice(known)
        spec = INSTITUTION_BY_KEY[institution]
        pool = NAME_POOLS[spec.country]
        name_en, name_local = pool.draw(self.rng)
        for _ in range(20):
            if name_en not in self.names:
                break
            name_en, name_local = pool.draw(self.rng)
        self.names.add(name_en)
        person = PersonDraft(
            serial=next(self.serials),
            name_en=name_en,
            name_local=name_local,
            institution=institution,
            title=self._title(spec.kind, senior),
            since=dt.date(self.rng.randint(2000, 2020), self.rng.randint(1, 12), 1),
            email=f"{_email_local(name_en)}@{institution}.example",
        )
        self.roster[institution].append(person)
        return person

    def _title(self, kind: InstitutionKind, senior: bool) -> str:
        if kind == InstitutionKind.UNIVERSITY:
            options = ("Professor",) if senior else ("Associate Professor", "Assistant Professor")
        else:
            options = (
                ("Director", "Principal Researcher")
                if senior
                else ("Senior Researcher", "Researcher", "Research Officer")
            )
        return self.rng.choice(options)


def _signed_on(history: Sequence[StepDraft]) -> dt.date:
    return next(s.at.date() for s in history if s.to_phase == P.IMPLEMENTATION)


def _document(acronym: str, phase: ProjectPhase, at: dt.datetime) -> str | None:
    if phase == P.IMPLEMENTATION:
        return f"R/D {acronym} {at:%Y-%m-%d}"
    if phase == P.EX_POST_EVALUATED:
        return f"Ex-post evaluation report {acronym} {at:%Y}"
    return None


def _summary(spec: ProjectSpec) -> str:
    japanese = INSTITUTION_BY_KEY[spec.japanese[0]].name_en
    partner = INSTITUTION_BY_KEY[spec.partners[0]].name_en
    countries = _listing([_country_name(c) for c in spec.countries])
    return (
        f"{spec.title}: joint research led by {japanese} and {partner}, with partners in "
        f"{countries}. Demo data: the project, its people and its history are fictional."
    )


def _email_local(name: str) -> str:
    return re.sub(r"[^a-z]+", ".", ascii_fold(name).lower()).strip(".")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def plan_demo(*, scale: int = 1, seed: int = DEMO_SEED) -> list[ProjectDraft]:
    """The demo graph as drafts; `scale` copies every project (with new dates and people)."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    planner = _Planner(random.Random(seed))
    return [planner.project(spec, copy=copy) for copy in range(1, scale + 1) for spec in PROJECTS]


# ---- the synthetic benchmark graph ---------------------------------------------------

# fmt: off
TOPICS: dict[str, tuple[str, ...]] = {
    "environment-energy": (
        "Coastal Ecosystem Monitoring", "Climate-resilient Water Supply",
        "Low-carbon Urban Energy Systems", "Biomass Energy from Agricultural Waste",
        "Air Quality Forecasting",
    ),
    "bioresources": (
        "Drought-tolerant Crop Breeding", "Sustainable Aquaculture",
        "Soil Health and Nutrient Cycling", "Forest Genetic Resources",
        "Livestock Disease Control",
    ),
    "disaster-prevention": (
        "Earthquake Early Warning", "Flood Forecasting", "Landslide Risk Mapping",
        "Volcanic Hazard Assessment", "Tsunami-resilient Coastal Planning",
    ),
    "infectious-diseases": (
        "Malaria Surveillance", "Antimicrobial Resistance Monitoring",
        "Rapid Diagnostics for Arboviruses", "Drug-resistant Tuberculosis",
        "Zoonotic Virus Discovery",
    ),
}
# fmt: on
_PHASE_WEIGHTS = {
    P.IDENTIFICATION: 1,
    P.REQUESTED: 1,
    P.APPROVED: 1,
    P.PLANNING: 1,
    P.IMPLEMENTATION: 4,
    P.COMPLETED: 2,
    P.FOLLOW_UP: 1,
    P.EX_POST_EVALUATED: 2,
    P.REJECTED: 1,
    P.WITHDRAWN: 1,
}


@dataclass
class _Pick:
    """Institutions chosen for one synthetic project, kept consistent with its countries."""

    rng: random.Random
    by_country: Mapping[str, Sequence[str]]
    countries: list[str] = field(default_factory=list)
    japanese: list[str] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)
    third: list[str] = field(default_factory=list)

    def used(self) -> set[str]:
        return {*self.japanese, *self.partners, *self.third}

    def japanese_one(self) -> bool:
        free = [k for k in self.by_country["JP"] if k not in self.used()]
        if free:
            self.japanese.append(self.rng.choice(free))
        return bool(free)

    def partner_one(self) -> bool:
        free = [k for c in self.countries for k in self.by_country[c] if k not in self.used()]
        if not free:
            third_countries = {INSTITUTION_BY_KEY[k].country for k in self.third}
            spare = [c for c in self.by_country if c != "JP" and c not in third_countries]
            spare = [c for c in spare if c not in self.countries]
            if not spare:
                return False
            country = self.rng.choice(sorted(spare))
            self.countries.append(country)
            free = list(self.by_country[country])
        self.partners.append(self.rng.choice(free))
        return True

    def third_one(self) -> bool:
        blocked = {"JP", *self.countries}
        free = [
            k
            for c, keys in self.by_country.items()
            if c not in blocked
            for k in keys
            if k not in self.used()
        ]
        if free:
            self.third.append(self.rng.choice(sorted(free)))
        return bool(free)


def _keys_by_country() -> dict[str, list[str]]:
    by_country: dict[str, list[str]] = defaultdict(list)
    for spec in INSTITUTIONS:
        by_country[spec.country].append(spec.key)
    return dict(by_country)


KEYS_BY_COUNTRY = _keys_by_country()
PARTNER_COUNTRIES = sorted(c for c in KEYS_BY_COUNTRY if c != "JP")


def _scaled_spec(
    rng: random.Random, acronym: str, theme: ThemeSpec, institutions: int
) -> ProjectSpec:
    pick = _Pick(rng, KEYS_BY_COUNTRY, countries=[rng.choice(PARTNER_COUNTRIES)])
    pick.japanese_one()
    pick.partner_one()
    extra = (pick.japanese_one, pick.partner_one, pick.third_one)
    for i in range(max(0, institutions - 2)):
        for attempt in range(3):
            if extra[(i + attempt) % 3]():
                break
    phase = rng.choices(list(_PHASE_WEIGHTS), weights=list(_PHASE_WEIGHTS.values()))[0]
    topic = rng.choice(TOPICS[theme.parent])
    return ProjectSpec(
        acronym=acronym,
        title=f"{topic} in {_country_name(pick.countries[0])}",
        theme=theme.code,
        countries=tuple(pick.countries),
        japanese=tuple(pick.japanese),
        partners=tuple(pick.partners),
        phase=phase,
        third=tuple(pick.third),
        withdrawn_after=rng.choice(MAIN_PATH[:4]),
    )


def plan_scaled(
    *,
    themes: int = 20,
    projects_per_theme: int = 25,
    institutions_per_project: int = 4,
    seed: int = DEMO_SEED,
) -> tuple[list[ThemeSpec], list[ProjectDraft]]:
    """New sub-themes (round-robin under the four fields), each with its projects."""
    if themes < 1 or projects_per_theme < 1 or institutions_per_project < 2:
        raise ValueError("need at least one theme, one project and two institutions")
    rng = random.Random(seed)
    planner = _Planner(rng)
    theme_specs = [
        ThemeSpec(
            code=f"{SCALED_THEME_PREFIX}{t:03d}",
            name=f"Benchmark theme {t:03d}",
            parent=ROOT_FIELDS[t % len(ROOT_FIELDS)],
        )
        for t in range(1, themes + 1)
    ]
    drafts = [
        planner.project(
            _scaled_spec(rng, f"BENCH-{t:03d}-{p:04d}", theme, institutions_per_project)
        )
        for t, theme in enumerate(theme_specs, start=1)
        for p in range(1, projects_per_theme + 1)
    ]
    return theme_specs, drafts


# ---- persistence ---------------------------------------------------------------------


async def _themes_by_code(session: AsyncSession, codes: Iterable[str]) -> dict[str, Theme]:
    wanted = set(codes)
    rows = await session.scalars(select(Theme).where(Theme.code.in_(wanted)))
    found = {t.code: t for t in rows}
    if missing := wanted - found.keys():
        raise LookupError(f"themes missing (are the migrations applied?): {sorted(missing)}")
    return found


async def _institutions(
    session: AsyncSession, keys: Iterable[str]
) -> tuple[dict[str, Institution], int]:
    """Institution rows for the keys: existing ones (same ROR id, or same English name and
    country) are reused, the others are added. Returns the rows and how many are new."""
    specs = [INSTITUTION_BY_KEY[k] for k in sorted(set(keys))]
    rors = [s.ror_id for s in specs if s.ror_id]
    existing = (
        await session.scalars(
            select(Institution).where(
                or_(
                    Institution.ror_id.in_(rors),
                    Institution.name_en.in_([s.name_en for s in specs]),
                )
            )
        )
    ).all()
    by_ror = {i.ror_id: i for i in existing if i.ror_id}
    by_name = {(i.name_en, i.country_code): i for i in existing}
    rows: dict[str, Institution] = {}
    for spec in specs:
        row = by_ror.get(spec.ror_id) or by_name.get((spec.name_en, spec.country))
        if row is None:
            row = Institution(
                name_en=spec.name_en,
                name_local=spec.name_local,
                acronym=spec.acronym,
                country_code=spec.country,
                kind=spec.kind,
                ror_id=spec.ror_id,
                website=spec.website,
            )
            session.add(row)
        rows[spec.key] = row
    return rows, sum(1 for r in rows.values() if r.id is None)


def _project_row(draft: ProjectDraft) -> Project:
    return Project(
        title=draft.title,
        acronym=draft.acronym,
        summary=draft.summary,
        start_date=draft.start_date,
        end_date=draft.end_date,
        phase=draft.phase,
        rd_signed_on=draft.rd_signed_on,
        created_at=draft.history[0].at,
        updated_at=draft.history[-1].at,
    )


def _project_links(
    draft: ProjectDraft,
    project: Project,
    themes: Mapping[str, Theme],
    institutions: Mapping[str, Institution],
    researchers: Mapping[PersonDraft, Researcher],
) -> list[Base]:
    pid = project.id
    return [
        ProjectTheme(project_id=pid, theme_id=themes[draft.theme].id),
        *(ProjectCountry(project_id=pid, country_code=c) for c in draft.countries),
        *(
            ProjectInstitution(project_id=pid, institution_id=institutions[key].id, role=role)
            for key, role in draft.institutions
        ),
        *(
            ProjectMember(
                project_id=pid,
                researcher_id=researchers[person].id,
                institution_id=institutions[person.institution].id,
                role=role,
            )
            for person, role in draft.members
        ),
        *(
            PhaseTransition(
                project_id=pid,
                from_phase=step.from_phase,
                to_phase=step.to_phase,
                at=step.at,
                note=step.note,
                document_ref=step.document_ref,
            )
            for step in draft.history
        ),
    ]


async def _persist(
    session: AsyncSession, drafts: Sequence[ProjectDraft], themes: Mapping[str, Theme]
) -> dict[str, int]:
    """Two flushes: first the rows others point at, then every link between them."""
    institutions, new_institutions = await _institutions(
        session, (key for d in drafts for key, _ in d.institutions)
    )
    people = list(dict.fromkeys(person for d in drafts for person, _ in d.members))
    researchers = {
        p: Researcher(name_en=p.name_en, name_local=p.name_local, email=p.email) for p in people
    }
    projects = [_project_row(d) for d in drafts]
    session.add_all([*researchers.values(), *projects])
    await session.flush()

    affiliations = [
        Affiliation(
            researcher_id=researchers[p].id,
            institution_id=institutions[p.institution].id,
            title=p.title,
            start_date=p.since,
        )
        for p in people
    ]
    links = [
        link
        for draft, project in zip(drafts, projects, strict=True)
        for link in _project_links(draft, project, themes, institutions, researchers)
    ]
    session.add_all([*affiliations, *links])
    await session.flush()

    def count(kind: type[Base]) -> int:
        return sum(1 for link in links if isinstance(link, kind))

    return {
        "institutions": new_institutions,
        "researchers": len(researchers),
        "affiliations": len(affiliations),
        "projects": len(projects),
        "partner_countries": len({c for d in drafts for c in d.countries}),
        "project_themes": count(ProjectTheme),
        "project_institutions": count(ProjectInstitution),
        "project_members": count(ProjectMember),
        "phase_transitions": count(PhaseTransition),
    }


async def seed_demo(
    session: AsyncSession, *, scale: int = 1, seed: int = DEMO_SEED
) -> dict[str, int]:
    """Load the demo graph (scale > 1: that many copies of every project) and flush.

    Raises DemoDataExists if a demo project is already in the database.
    """
    drafts = plan_demo(scale=scale, seed=seed)
    markers = [spec.acronym for spec in PROJECTS]
    if await session.scalar(select(Project.id).where(Project.acronym.in_(markers)).limit(1)):
        raise DemoDataExists("the demo graph is already loaded (its project acronyms exist)")
    themes = await _themes_by_code(session, {d.theme for d in drafts})
    return await _persist(session, drafts, themes)


async def seed_scaled(
    session: AsyncSession,
    *,
    themes: int = 20,
    projects_per_theme: int = 25,
    institutions_per_project: int = 4,
    seed: int = DEMO_SEED,
) -> dict[str, int]:
    """A synthetic benchmark graph: `themes` new sub-themes x `projects_per_theme` projects
    x `institutions_per_project` institutions (capped by the catalogue). Flushes only.

    Raises DemoDataExists if benchmark themes are already in the database.
    """
    theme_specs, drafts = plan_scaled(
        themes=themes,
        projects_per_theme=projects_per_theme,
        institutions_per_project=institutions_per_project,
        seed=seed,
    )
    if await session.scalar(
        select(Theme.id).where(Theme.code.startswith(SCALED_THEME_PREFIX)).limit(1)
    ):
        raise DemoDataExists("the benchmark themes are already loaded")
    parents = await _themes_by_code(session, {t.parent for t in theme_specs})
    rows = {
        t.code: Theme(code=t.code, name=t.name, parent_id=parents[t.parent].id) for t in theme_specs
    }
    session.add_all(rows.values())
    counts = await _persist(session, drafts, rows)
    return {"themes": len(rows), **counts}
