"""A realistic SATREPS research graph for demos, screenshots and benchmarks.

`seed_demo` loads some fifty joint research projects between Japan and 36 partner
countries, in the four SATREPS fields and in every lifecycle phase, with their partner
countries, institutions, researchers, affiliations and phase history, and, in proportion to
each project's phase and duration, its technical cooperation (expert dispatches with their
counterparts, training courses with their trainees, equipment), its Project Design Matrix
(goal, purpose, outputs, activities, indicators and their measurements) and its monitoring
and evaluation (JCC meetings, monitoring reports, evaluations with lessons learned,
follow-up cooperation, learning materials). See "cooperation" below for the proportions.

What is real and what is not:
- Institutions are real (names in English and in the local language or script, acronyms).
  ROR ids are set only for the two we are sure of; a checksum-valid id of another
  organisation would be false data, so the others stay None.
- Projects, researchers, e-mail addresses (under the reserved `.example` domain), phase
  histories and every cooperation, PDM and M&E record are fictional; every project summary
  and evaluation summary says so, material URLs are under https://example.org/.
  Researchers get no ORCID iD: any checksum-valid iD falls in ORCID's issued blocks and
  may belong to a real person.

Everything is deterministic: one `random.Random(seed)` and dates counted from
REFERENCE_DATE (the day the graph is "as of"), never from today.

Loading twice is refused: `seed_demo` raises DemoDataExists when a demo project acronym is
already in the database, `seed_scaled` when its benchmark themes exist. Both only add and
flush; the caller commits.

`seed_scaled` builds a larger synthetic graph for benchmarks (N new themes x M projects x K
institutions) from the same institution catalogue and the same project builder, so its
projects obey the same rules (roles match countries, histories follow TRANSITIONS). It adds
no cooperation, PDM or M&E records (their counts are 0): the benchmark reads the research
graph, and leaving them out keeps a large benchmark load fast.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pycountry
from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import Base
from server.models import (
    Affiliation,
    DispatchCounterpart,
    EquipmentItem,
    Evaluation,
    ExpertDispatch,
    FollowUpCooperation,
    Indicator,
    IndicatorMeasurement,
    Institution,
    JccMeeting,
    LearningMaterial,
    LessonLearned,
    MonitoringReport,
    PdmElement,
    PhaseTransition,
    Project,
    ProjectCountry,
    ProjectInstitution,
    ProjectMember,
    ProjectTheme,
    Researcher,
    Theme,
    TrainingCourse,
    TrainingParticipant,
)
from server.models.enums import (
    CourseType,
    DacRating,
    EquipmentStatus,
    EvaluationKind,
    InstitutionKind,
    InstitutionRole,
    MaterialKind,
    MemberRole,
    PdmLevel,
    ProjectPhase,
)
from server.projects.service import TRANSITIONS

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


@dataclass(frozen=True)
class DispatchDraft:
    expert: PersonDraft
    origin_country: str
    host: str  # institution key
    start: dt.date
    end: dt.date
    purpose: str
    counterparts: tuple[PersonDraft, ...]


@dataclass(frozen=True)
class CourseDraft:
    title: str
    course_type: CourseType
    host: str | None  # institution key
    host_country: str
    start: dt.date
    end: dt.date
    outcome_notes: str | None
    participants: tuple[PersonDraft, ...]  # each attends for their own (partner) institution


@dataclass(frozen=True)
class EquipmentDraft:
    item: str
    category: str
    quantity: int
    value: Decimal
    currency: str
    recipient: str  # institution key
    delivery: dt.date
    status: EquipmentStatus


@dataclass(frozen=True)
class IndicatorDraft:
    description: str
    unit: str
    baseline: Decimal
    target: Decimal
    verification: str
    measurements: tuple[tuple[dt.date, Decimal, str], ...] = ()


@dataclass(frozen=True)
class ElementDraft:
    level: PdmLevel
    position: int
    description: str
    indicators: tuple[IndicatorDraft, ...] = ()
    children: tuple[ElementDraft, ...] = ()


@dataclass(frozen=True)
class MeetingDraft:
    held_on: dt.date
    minutes: str
    decisions: str


@dataclass(frozen=True)
class ReportDraft:
    period_start: dt.date
    period_end: dt.date
    submitted_on: dt.date
    summary: str
    document_ref: str


@dataclass(frozen=True)
class EvaluationDraft:
    kind: EvaluationKind
    evaluated_on: dt.date
    summary: str
    document_ref: str
    ratings: tuple[DacRating, ...] | None = None  # the six DAC criteria, in DAC_CRITERIA order
    lessons: tuple[str, ...] = ()


@dataclass(frozen=True)
class FollowUpDraft:
    start: dt.date
    end: dt.date | None
    description: str


@dataclass(frozen=True)
class MaterialDraft:
    title: str
    kind: MaterialKind
    language: str
    audience: str
    licence: str
    url: str | None


@dataclass
class CooperationDraft:
    """A project's technical cooperation, PDM and M&E records (all empty before planning)."""

    dispatches: list[DispatchDraft] = field(default_factory=list)
    courses: list[CourseDraft] = field(default_factory=list)
    equipment: list[EquipmentDraft] = field(default_factory=list)
    pdm: list[ElementDraft] = field(default_factory=list)  # the overall goal, the purpose
    meetings: list[MeetingDraft] = field(default_factory=list)
    reports: list[ReportDraft] = field(default_factory=list)
    evaluations: list[EvaluationDraft] = field(default_factory=list)
    follow_ups: list[FollowUpDraft] = field(default_factory=list)
    materials: list[MaterialDraft] = field(default_factory=list)


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
    cooperation: CooperationDraft = field(default_factory=CooperationDraft)


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
        options: tuple[str, ...]
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
    drafts = [planner.project(spec, copy=copy) for copy in range(1, scale + 1) for spec in PROJECTS]
    cooperation = _Cooperation(planner)  # after every project, so they stay as they were
    for draft in drafts:
        draft.cooperation = cooperation.plan(draft)
    return drafts


# ---- cooperation: dispatches, training, equipment, PDM, M&E, materials ---------------
#
# Planned after every project (same RNG, so the projects themselves do not change), only
# for the demo graph: `plan_scaled` and `seed_scaled` leave these tables empty.
#
# Proportions, by phase:
# - planning onwards (not withdrawn): a PDM (goal, purpose, 3-5 outputs of 2-4 activities,
#   1-2 indicators per goal, purpose and output) and an ex-ante evaluation;
# - implementation onwards: 2-6 expert dispatches and about one or two training courses per
#   project-year so far, equipment, JCC meetings (yearly), monitoring reports (six-monthly),
#   indicator measurements (baseline survey, then yearly), 0-3 learning materials, a
#   mid-term review once past mid-term, and two to four junior counterparts as trainees;
# - completed onwards: a terminal evaluation with lessons; follow-up cooperation when the
#   history went through follow_up; an ex-post evaluation (six DAC ratings, lessons) in
#   ex_post_evaluated, three years after the end date.
# Nothing is dated after REFERENCE_DATE except planned deliveries (status `ordered`),
# dispatches or courses under way, and a follow-up's planned end.

PDM_PHASES = frozenset({P.PLANNING, *STARTED_PHASES})
DAC_CRITERIA = ("relevance", "coherence", "effectiveness", "impact", "efficiency", "sustainability")
JAPAN_COURSES = (CourseType.GROUP_REGION_FOCUS, CourseType.COUNTRY_FOCUS, CourseType.YOUNG_LEADERS)
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "VND", "CLP", "XAF"})  # ISO 4217 minor unit 0
# fmt: off
CURRENCY = {
    "TH": "THB", "VN": "VND", "ID": "IDR", "PH": "PHP", "MY": "MYR", "MM": "MMK", "KH": "KHR",
    "LA": "LAK", "MN": "MNT", "BD": "BDT", "LK": "LKR", "IN": "INR", "NP": "NPR", "PK": "PKR",
    "BT": "BTN", "TR": "TRY", "KE": "KES", "TZ": "TZS", "ET": "ETB", "GH": "GHS", "ZM": "ZMW",
    "ZA": "ZAR", "CM": "XAF", "GA": "XAF", "MZ": "MZN", "EG": "EGP", "MA": "MAD", "TN": "TND",
    "NG": "NGN", "BR": "BRL", "MX": "MXN", "PE": "PEN", "CL": "CLP", "CO": "COP", "BO": "BOB",
    "AR": "ARS", "EC": "USD",
}
# Rough yen per unit (demo values, not a rate source).
YEN_PER_UNIT = {
    "USD": 150.0, "THB": 4.3, "VND": 0.0059, "IDR": 0.0094, "PHP": 2.6, "MYR": 33.0,
    "MMK": 0.071, "KHR": 0.037, "LAK": 0.0069, "MNT": 0.044, "BDT": 1.25, "LKR": 0.5,
    "INR": 1.8, "NPR": 1.1, "PKR": 0.53, "BTN": 1.8, "TRY": 4.4, "KES": 1.16, "TZS": 0.058,
    "ETB": 1.2, "GHS": 10.0, "ZMW": 5.6, "ZAR": 8.2, "XAF": 0.25, "MZN": 2.35, "EGP": 3.1,
    "MAD": 15.0, "TND": 48.0, "NGN": 0.1, "BRL": 27.0, "MXN": 8.2, "PEN": 40.0, "CLP": 0.16,
    "COP": 0.037, "BOB": 21.7, "ARS": 0.15,
}
# ISO 639-1 code of a language materials are written in, per partner country.
LANGUAGE = {
    "TH": "th", "VN": "vi", "ID": "id", "PH": "tl", "MY": "ms", "MM": "my", "KH": "km",
    "LA": "lo", "MN": "mn", "BD": "bn", "LK": "si", "IN": "hi", "NP": "ne", "PK": "ur",
    "BT": "dz", "TR": "tr", "KE": "sw", "TZ": "sw", "ET": "am", "GH": "en", "ZM": "en",
    "ZA": "en", "CM": "fr", "GA": "fr", "MZ": "pt", "NG": "en", "EG": "ar", "MA": "ar",
    "TN": "ar", "BR": "pt", "MX": "es", "PE": "es", "CL": "es", "CO": "es", "BO": "es",
    "AR": "es", "EC": "es",
}
REGION = {
    **dict.fromkeys("TH VN ID PH MY MM KH LA MN BD LK IN NP PK BT".split(), "Asia"),
    **dict.fromkeys("TR EG MA TN".split(), "the Middle East and North Africa"),
    **dict.fromkeys("KE TZ ET GH ZM ZA CM GA MZ NG".split(), "Sub-Saharan Africa"),
    **dict.fromkeys("BR MX PE CL CO BO AR EC".split(), "Latin America"),
}
LICENCES = ("CC-BY-4.0", "CC-BY-4.0", "CC-BY-SA-4.0", "CC-BY-NC-4.0", "CC-BY-NC-SA-4.0",
            "CC-BY-NC-ND-4.0")


@dataclass(frozen=True)
class Gear:
    item: str
    category: str
    yen: tuple[int, int]  # unit value, thousands of yen
    quantity: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class IndicatorSpec:
    description: str
    unit: str
    baseline: tuple[int, int]
    target: tuple[int, int]
    verification: str


@dataclass(frozen=True)
class OutputSpec:
    description: str
    activities: tuple[str, ...]
    indicators: tuple[IndicatorSpec, ...]


@dataclass(frozen=True)
class FieldSpec:
    """What a project of one SATREPS field buys, trains, aims at and measures."""

    gear: tuple[Gear, ...]
    goal: str
    goal_indicators: tuple[IndicatorSpec, ...]
    purpose: str
    purpose_indicators: tuple[IndicatorSpec, ...]
    outputs: tuple[OutputSpec, ...]
    skills: tuple[str, ...]  # in-country training and dispatch topics
    courses: tuple[str, ...]  # training-in-Japan topics
    materials: tuple[str, ...]
    audiences: tuple[str, ...]


G = Gear
X = IndicatorSpec
O = OutputSpec  # noqa: E741
PAPERS = X("Joint peer-reviewed papers published", "papers", (0, 0), (10, 25),
           "Publication list of the project")
TRAINED = X("Partner researchers and technicians trained", "persons", (0, 0), (20, 60),
            "Training records")
DEGREES = X("Partner researchers awarded a doctoral degree", "persons", (0, 0), (3, 8),
            "University records")
WORKSHOPS = X("Stakeholder workshops held with national and local agencies", "workshops",
              (0, 0), (4, 10), "Workshop reports")
GUIDELINES = X("Guidelines or manuals adopted by the responsible agency", "documents", (0, 0),
               (2, 5), "Official notices of adoption")
RESEARCH = O(
    "Joint research produces new scientific knowledge published in international journals",
    ("Design the joint research plan with the partner teams",
     "Analyse samples and data jointly in partner and Japanese laboratories",
     "Write and submit joint papers", "Present results at international conferences"),
    (PAPERS,),
)
PEOPLE = O(
    "Researchers and technicians of the partner institutions are trained to carry on the work",
    ("Supervise doctoral and master's students in Japan and in the partner country",
     "Hold in-country training courses on methods and equipment",
     "Send researchers to Knowledge Co-Creation Program courses in Japan",
     "Prepare standard operating procedures with the counterparts"),
    (TRAINED, DEGREES),
)
OUTREACH = O(
    "The results are shared with policy makers, practitioners and communities",
    ("Hold stakeholder workshops", "Prepare policy briefs and manuals",
     "Produce learning materials for extension staff", "Organise a final symposium"),
    (WORKSHOPS, GUIDELINES),
)
GENERIC_OUTPUTS = (RESEARCH, PEOPLE, OUTREACH)
GE_FIELD = FieldSpec(
    gear=(
        G("Automatic weather station", "Meteorological instruments", (1500, 4000), (2, 8)),
        G("Eddy covariance flux tower system", "Flux measurement", (8000, 15000), (1, 2)),
        G("Multiparameter water quality sonde", "Water quality", (1000, 2500), (2, 6)),
        G("Drone with multispectral camera", "Remote sensing", (1500, 4000), (1, 3)),
        G("Gas chromatograph-mass spectrometer", "Analytical instruments", (15000, 30000)),
        G("CTD profiler", "Oceanographic instruments", (3000, 8000), (1, 2)),
        G("PM2.5 and ozone monitor", "Air quality", (2000, 5000), (2, 6)),
        G("Data server and storage array", "IT equipment", (3000, 8000)),
        G("Fourier-transform infrared spectrometer", "Analytical instruments", (8000, 14000)),
    ),
    goal="Environmental policies and land and water management in the partner countries draw "
    "on the project's monitoring system and scientific evidence",
    goal_indicators=(
        X("National or local plans citing the project's results", "plans", (0, 0), (2, 6),
          "Government plans and policy documents"),
        X("Area under management informed by the project's maps", "ha", (0, 500),
          (5000, 50000), "Reports of the responsible agencies"),
    ),
    purpose="A system for observing, understanding and projecting the environmental changes "
    "studied is established and run by the partner institutions",
    purpose_indicators=(
        X("Monitoring sites operated routinely by the partner institutions", "sites", (0, 2),
          (8, 20), "Site operation logs"),
        X("Share of observation data released within six months", "%", (0, 20), (70, 95),
          "Data portal statistics"),
    ),
    outputs=(
        O("An observation network is installed and operated with the partner agencies",
          ("Select monitoring sites with local stakeholders",
           "Install and calibrate the instruments",
           "Train technicians in maintenance and data quality control",
           "Run a shared database of observations"),
          (X("Stations reporting to the shared database", "stations", (0, 2), (10, 30),
             "Database records"),
           X("Data availability of the network", "%", (0, 30), (80, 95),
             "Quality control reports"))),
        O("Processes and drivers of the changes are clarified by field and laboratory studies",
          ("Conduct seasonal field surveys", "Analyse samples in partner laboratories",
           "Quantify the fluxes and their drivers", "Compare sites along gradients"),
          (X("Field survey campaigns completed", "campaigns", (0, 0), (6, 16),
             "Survey reports"),)),
        O("Models and scenarios support planning by the responsible agencies",
          ("Develop and calibrate process models", "Downscale climate scenarios",
           "Map risks and options with the agencies", "Hand the models over to the partners"),
          (X("Agreement of model results with observations", "%", (30, 50), (70, 85),
             "Validation reports"),)),
    ),
    skills=("sensor installation and calibration", "field sampling protocols",
            "GIS and remote sensing analysis", "data quality control",
            "laboratory analysis of environmental samples"),
    courses=("environmental monitoring and assessment", "climate change adaptation",
             "integrated water resources management"),
    materials=("Field manual for environmental monitoring", "Lecture series on climate data",
               "Guide to the observation database", "Video: maintaining the field stations"),
    audiences=("Environmental agency staff", "Researchers and graduate students",
               "Local government officials", "Community monitoring volunteers"),
)
CN_FIELD = FieldSpec(
    gear=(
        G("Pyranometer and photovoltaic test bench", "Solar energy", (2000, 6000), (1, 4)),
        G("Battery cycler and potentiostat", "Electrochemistry", (5000, 12000), (1, 2)),
        G("Gas chromatograph for biogas analysis", "Analytical instruments", (6000, 12000)),
        G("Pilot-scale anaerobic digester", "Pilot plant", (20000, 45000)),
        G("Real-time digital power system simulator", "Power systems", (30000, 60000)),
        G("Magnetotelluric survey system", "Geophysical instruments", (15000, 30000)),
        G("Smart meters", "Power systems", (30, 80), (20, 100)),
        G("HPC compute server", "IT equipment", (8000, 20000), (1, 2)),
        G("Electrolyser test stand", "Hydrogen", (10000, 25000)),
    ),
    goal="Low-carbon technologies demonstrated by the project are adopted in national energy "
    "plans and by operators in the partner countries",
    goal_indicators=(
        X("Installed capacity using the project's technology", "MW", (0, 0), (5, 60),
          "Operator statistics"),
        X("Greenhouse gas emissions avoided per year", "t CO2e", (0, 0), (2000, 40000),
          "MRV reports"),
    ),
    purpose="The partner institutions can design, test and evaluate the low-carbon energy "
    "technology studied under local conditions",
    purpose_indicators=(
        X("Pilot systems operated by the partner institutions", "systems", (0, 0), (2, 6),
          "Operation logs"),
        X("Efficiency of the pilot system", "%", (20, 40), (55, 80), "Test reports"),
    ),
    outputs=(
        O("The local resource and demand are assessed",
          ("Survey the resource potential", "Measure the demand profiles",
           "Build a resource database", "Map suitable sites"),
          (X("Sites assessed", "sites", (0, 0), (10, 40), "Assessment reports"),)),
        O("A pilot system is built and its performance evaluated",
          ("Design the pilot system with the counterparts", "Procure and install the equipment",
           "Run performance tests", "Evaluate costs and emissions over the life cycle"),
          (X("Operating hours of the pilot system", "hours", (0, 0), (2000, 8000),
             "Operation logs"),
           X("Availability of the pilot system", "%", (0, 40), (85, 95), "Operation logs"))),
        O("Policy options for deployment are proposed to the energy authorities",
          ("Analyse regulations and tariffs", "Model deployment scenarios",
           "Discuss options with the authorities", "Draft a deployment roadmap"),
          (X("Policy proposals submitted to the authorities", "proposals", (0, 0), (2, 5),
             "Letters of submission"),)),
    ),
    skills=("pilot plant operation", "power system simulation", "life-cycle assessment",
            "laboratory safety", "performance testing"),
    courses=("renewable energy policy", "energy efficiency and low-carbon cities",
             "geothermal resource development"),
    materials=("Operation manual of the pilot plant", "Lecture series on low-carbon energy",
               "Case studies in renewable energy integration", "E-learning: life-cycle assessment"),
    audiences=("Energy ministry officials", "Plant operators and engineers",
               "Researchers and graduate students", "Utility staff"),
)
BIO_FIELD = FieldSpec(
    gear=(
        G("Benchtop DNA sequencer", "Molecular biology", (10000, 25000)),
        G("PCR thermocycler", "Molecular biology", (800, 2000), (1, 3)),
        G("Plant growth chamber", "Plant science", (3000, 8000), (1, 2)),
        G("Soil nutrient analyser", "Soil science", (2000, 5000)),
        G("Drone with multispectral camera", "Remote sensing", (1500, 4000), (1, 2)),
        G("Recirculating aquaculture system", "Aquaculture", (5000, 15000)),
        G("Ultra-low temperature freezer (-80 °C)", "Laboratory equipment", (1200, 2500),
          (1, 3)),
        G("Automatic weather station", "Meteorological instruments", (1500, 4000), (1, 4)),
        G("Seed storage cold room", "Genebank", (8000, 20000)),
    ),
    goal="Farmers, fishers and herders in the target areas raise their yields and incomes "
    "with the varieties, practices and services developed by the project",
    goal_indicators=(
        X("Households using the project's varieties or practices", "households", (0, 0),
          (2000, 20000), "Extension service records"),
        X("Average yield in the target areas", "t/ha", (1, 2), (3, 5), "Agricultural surveys"),
    ),
    purpose="Improved varieties, practices and management models are developed and validated "
    "with the national research and extension services",
    purpose_indicators=(
        X("Improved lines or practices validated in farmers' fields", "lines", (0, 0), (3, 10),
          "Trial reports"),
        X("Extension officers using the project's guidelines", "persons", (0, 0), (50, 300),
          "Extension service records"),
    ),
    outputs=(
        O("Genetic and biological resources are characterised",
          ("Collect and conserve germplasm", "Genotype the collection",
           "Phenotype traits in the field", "Build a shared database"),
          (X("Accessions characterised", "accessions", (0, 50), (300, 1500),
             "Genebank database"),)),
        O("Improved varieties or production practices are developed",
          ("Cross and select breeding lines", "Run multi-location trials",
           "Test management practices on farm", "Evaluate the economics with farmers"),
          (X("Multi-location trials completed", "trials", (0, 0), (8, 30), "Trial reports"),
           X("Yield gain over local practice in trials", "%", (0, 0), (15, 40),
             "Trial reports"))),
        O("A seed, extension or value-chain model is tested with communities",
          ("Set up demonstration plots", "Train lead farmers",
           "Pilot a seed or market system", "Monitor adoption"),
          (X("Lead farmers trained", "persons", (0, 0), (100, 600), "Training records"),)),
    ),
    skills=("field trial design", "molecular marker analysis", "soil and plant analysis",
            "statistical genetics", "aquaculture husbandry"),
    courses=("crop breeding and seed systems", "sustainable agriculture and food security",
             "fisheries and aquaculture management"),
    materials=("Farmer field guide", "Lecture series on plant breeding",
               "Video: on-farm trial methods", "Manual for extension officers"),
    audiences=("Extension officers", "Farmers' organisations",
               "Researchers and graduate students", "Agriculture ministry officials"),
)
DIS_FIELD = FieldSpec(
    gear=(
        G("Broadband seismometer", "Seismic instruments", (3000, 6000), (3, 12)),
        G("Strong-motion accelerograph", "Seismic instruments", (1500, 3500), (5, 20)),
        G("Continuous GNSS receiver", "Geodetic instruments", (1500, 3000), (3, 10)),
        G("Tipping-bucket rain gauge", "Hydrological instruments", (150, 400), (10, 40)),
        G("Radar water level gauge", "Hydrological instruments", (800, 2000), (3, 12)),
        G("Ocean-bottom pressure gauge", "Tsunami instruments", (8000, 20000), (1, 3)),
        G("HPC server for numerical simulation", "IT equipment", (10000, 30000)),
        G("Drone with LiDAR", "Remote sensing", (5000, 12000)),
        G("Borehole extensometer", "Geotechnical instruments", (1000, 3000), (2, 8)),
    ),
    goal="Disaster risk in the target regions is reduced through early warning, land-use "
    "planning and resilient construction informed by the project",
    goal_indicators=(
        X("Municipalities using the project's hazard maps", "municipalities", (0, 0), (5, 40),
          "Municipal plans"),
        X("Population covered by early warning", "persons", (0, 0), (100000, 2000000),
          "Disaster management agency records"),
    ),
    purpose="Hazard assessment and early-warning capability of the partner agencies is "
    "strengthened with the project's observation network and models",
    purpose_indicators=(
        X("Lead time of warnings issued in tests", "minutes", (0, 5), (20, 60),
          "Warning drill reports"),
        X("Hazard maps issued by the partner agencies", "maps", (0, 0), (5, 25),
          "Official publications"),
    ),
    outputs=(
        O("A real-time observation network is built and operated",
          ("Install stations at selected sites", "Build the telemetry and data centre",
           "Train operators of the data centre", "Archive and share the observations"),
          (X("Stations transmitting in real time", "stations", (0, 3), (15, 50),
             "Data centre logs"),
           X("Uptime of the data centre", "%", (0, 50), (90, 99), "Data centre logs"))),
        O("Hazard and risk are assessed with models validated on local data",
          ("Survey past events", "Develop hazard models", "Assess exposure and vulnerability",
           "Produce hazard and risk maps"),
          (X("Scenarios simulated and documented", "scenarios", (0, 0), (10, 40),
             "Simulation reports"),)),
        O("An early-warning and preparedness system is piloted with communities",
          ("Define warning criteria with the agencies", "Pilot warning dissemination",
           "Run evacuation drills", "Review the system after each event"),
          (X("Communities taking part in drills", "communities", (0, 0), (5, 30),
             "Drill reports"),)),
    ),
    skills=("seismic data processing", "hydrological modelling", "GNSS data analysis",
            "hazard mapping with GIS", "station maintenance"),
    courses=("disaster risk reduction", "earthquake and tsunami engineering",
             "flood risk management"),
    materials=("Hazard mapping manual", "Lecture series on early warning",
               "Video: community evacuation drills", "Guide to the observation data centre"),
    audiences=("Disaster management officers", "Local government officials",
               "Researchers and graduate students", "Community leaders"),
)
INF_FIELD = FieldSpec(
    gear=(
        G("Real-time PCR system", "Molecular diagnostics", (4000, 8000), (1, 3)),
        G("Next-generation sequencer", "Genomics", (15000, 40000)),
        G("Class II biosafety cabinet", "Biosafety", (1500, 3500), (1, 4)),
        G("Ultra-low temperature freezer (-80 °C)", "Laboratory equipment", (1200, 2500),
          (1, 4)),
        G("Fluorescence microscope", "Microscopy", (3000, 9000)),
        G("Automated ELISA reader and washer", "Immunology", (1500, 4000)),
        G("LAMP field diagnostic kit set", "Point-of-care diagnostics", (100, 300), (10, 50)),
        G("Autoclave", "Laboratory equipment", (800, 2000), (1, 2)),
        G("Insectary climate control unit", "Vector biology", (2000, 6000)),
    ),
    goal="The burden of the target disease falls through surveillance, diagnosis and control "
    "measures adopted by the health authorities",
    goal_indicators=(
        X("Incidence in the target area", "cases/100000", (200, 600), (20, 120),
          "Health information system"),
        X("Districts applying the project's protocols", "districts", (0, 0), (5, 30),
          "Ministry of health reports"),
    ),
    purpose="The partner laboratories detect, characterise and monitor the target pathogens "
    "with validated methods and share the results with the health authorities",
    purpose_indicators=(
        X("Samples tested per year with the new methods", "samples", (0, 0), (2000, 12000),
          "Laboratory information system"),
        X("Median days from sampling to result", "days", (10, 21), (1, 4),
          "Laboratory information system"),
    ),
    outputs=(
        O("Laboratory capacity for diagnosis and biosafety is strengthened",
          ("Set up the molecular laboratory", "Introduce quality management",
           "Train laboratory staff in biosafety", "Join external quality assessment"),
          (X("Laboratory staff certified in the methods", "persons", (0, 0), (10, 40),
             "Training records"),
           X("Score in external quality assessment", "%", (40, 60), (85, 98),
             "EQA reports"))),
        O("New diagnostics or treatments are developed and evaluated",
          ("Develop candidate assays or compounds", "Evaluate them on clinical samples",
           "Compare with reference methods", "Prepare technology transfer"),
          (X("Sensitivity of the new diagnostic", "%", (50, 70), (90, 98),
             "Evaluation study reports"),)),
        O("A surveillance system links laboratories, clinics and the field",
          ("Design sentinel surveillance with the ministry", "Collect samples at sentinel sites",
           "Analyse trends and resistance", "Report to the health authorities"),
          (X("Sentinel sites reporting", "sites", (0, 0), (6, 25), "Surveillance reports"),)),
    ),
    skills=("molecular diagnostics", "biosafety and biosecurity", "genomic epidemiology",
            "vector surveillance", "laboratory quality management"),
    courses=("infectious disease control", "laboratory diagnostics and biosafety",
             "One Health approaches to zoonoses"),
    materials=("Laboratory SOP collection", "Lecture series on genomic surveillance",
               "Video: biosafety in the diagnostic laboratory", "Field guide to vector sampling"),
    audiences=("Laboratory technicians", "Health workers", "Researchers and graduate students",
               "Ministry of health officials"),
)
FIELDS: dict[str, FieldSpec] = {
    GE: GE_FIELD, CN: CN_FIELD, BIO: BIO_FIELD, DIS: DIS_FIELD, INF: INF_FIELD,
}
DISPATCH_PURPOSES = (
    "Joint field survey with the counterparts", "Installation and calibration of equipment",
    "Training of counterparts in {skill}", "Laboratory work and joint data analysis",
    "Review of the work plan and preparation of the JCC meeting",
    "Lectures and seminars on {skill}", "Long-term assignment as project coordinator",
    "Supervision of partner graduate students",
)
COURSE_OUTCOMES = (
    "Participants drafted action plans for their institutions and presented them at the end "
    "of the course.",
    "All participants completed the course; two follow-up seminars were given at home.",
    "Participants passed the practical assessment and now train colleagues.",
    "Course evaluation: the practical sessions rated most useful; more time asked for data "
    "analysis.",
)
JCC_DECISIONS = (
    "Annual work plan approved.", "Revised PDM approved.",
    "Counterpart staffing to be reinforced by the partner side.",
    "Equipment procurement schedule confirmed.", "Data sharing agreement endorsed.",
    "Plan for the dissemination of results adopted.",
)
REPORT_SUMMARIES = (
    "Activities on schedule; equipment installed and counterparts trained.",
    "Most activities on schedule; field work delayed by the rainy season.",
    "Progress as planned; first joint results submitted for publication.",
    "Delays in procurement made up; data collection complete for the period.",
)
LESSONS = (
    "Assigning full-time counterparts from the start kept the research going between expert "
    "dispatches.",
    "Equipment chosen with the partner institutions' maintenance capacity in mind stayed in "
    "use after the project.",
    "Involving the responsible ministry in the JCC from the first year eased the adoption of "
    "the results.",
    "Joint supervision of doctoral students built lasting links between the research teams.",
    "A data sharing agreement signed early avoided disputes over publication.",
    "Budget for spare parts and consumables after the project is needed for sustainability.",
    "Local-language materials reached practitioners that English reports did not.",
)
FOLLOW_UPS = (
    "Follow-up cooperation to scale out the project's results with the responsible ministry.",
    "Follow-up support for the maintenance of the observation network and data centre.",
    "Follow-up training to institutionalise the methods in the national curriculum.",
)
EVALUATION_TEXT = {
    EvaluationKind.EX_ANTE: "Ex-ante evaluation: the project is relevant to the partner "
    "country's development policy and to Japan's cooperation policy.",
    EvaluationKind.MID_TERM_REVIEW: "Mid-term review: most outputs on track; the PDM was "
    "revised and the indicators of one output made more specific.",
    EvaluationKind.TERMINAL: "Terminal evaluation: the project purpose is largely achieved; "
    "sustainability depends on the partner side's budget for operation and maintenance.",
    EvaluationKind.EX_POST: "Ex-post evaluation: the results remain in use; the effects on "
    "the overall goal are partly confirmed.",
}
# fmt: on


def _months_between(start: dt.date, end: dt.date) -> int:
    """Whole months of a period that starts on the 1st and ends on a month's last day."""
    return (end.year * 12 + end.month) - (start.year * 12 + start.month) + 1


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class _Cooperation:
    """Plans a project's cooperation records once the project itself is drafted."""

    def __init__(self, planner: _Planner) -> None:
        self.planner = planner
        self.rng = planner.rng

    def plan(self, draft: ProjectDraft) -> CooperationDraft:
        coop = CooperationDraft()
        fld = FIELDS.get(draft.theme)
        if fld is None or draft.phase not in PDM_PHASES or draft.start_date is None:
            return coop
        assert draft.end_date is not None
        steps = {s.to_phase: s.at.date() for s in draft.history}
        coop.evaluations.append(self._ex_ante(draft, steps[P.PLANNING]))
        started = draft.phase in STARTED_PHASES
        if started:
            self._add_juniors(draft)
        coop.pdm = self._pdm(draft, fld, measured=started)
        if not started:
            return coop
        coop.dispatches = self._dispatches(draft, fld)
        coop.courses = self._courses(draft, fld)
        coop.equipment = self._equipment(draft, fld)
        coop.meetings = self._meetings(draft)
        coop.reports = self._reports(draft)
        coop.evaluations += self._evaluations(draft, steps)
        if P.FOLLOW_UP in steps:
            start = steps[P.FOLLOW_UP]
            end = add_months(start, self.rng.choice((12, 24, 36))) - dt.timedelta(days=1)
            coop.follow_ups.append(FollowUpDraft(start, end, self.rng.choice(FOLLOW_UPS)))
        coop.materials = self._materials(draft, fld)
        return coop

    # -- who -----------------------------------------------------------------------------

    def _country(self, person: PersonDraft) -> str:
        return INSTITUTION_BY_KEY[person.institution].country

    def _people(self, draft: ProjectDraft) -> list[PersonDraft]:
        return list(dict.fromkeys(p for p, _ in draft.members))

    def _japanese(self, draft: ProjectDraft) -> list[PersonDraft]:
        return [p for p in self._people(draft) if self._country(p) == "JP"]

    def _third(self, draft: ProjectDraft) -> list[PersonDraft]:
        return [
            p
            for p in self._people(draft)
            if self._country(p) != "JP" and self._country(p) not in draft.countries
        ]

    def _partner_side(self, draft: ProjectDraft) -> list[PersonDraft]:
        partners = self._institutions(draft, R.PARTNER_LEAD, R.PARTNER_PARTICIPANT)
        return [p for p in self._people(draft) if p.institution in partners]

    @staticmethod
    def _institutions(draft: ProjectDraft, *roles: InstitutionRole) -> list[str]:
        return [key for key, role in draft.institutions if role in roles]

    def _add_juniors(self, draft: ProjectDraft) -> None:
        """Young partner researchers join as counterparts: the trainees of the project."""
        partners = self._institutions(draft, R.PARTNER_LEAD, R.PARTNER_PARTICIPANT)
        for _ in range(self.rng.randint(2, 4)):
            taken = {p for p, _ in draft.members}
            person = self.planner.person(self.rng.choice(partners), senior=False, exclude=taken)
            draft.members.append((person, MemberRole.COUNTERPART))

    # -- when ----------------------------------------------------------------------------

    def _within(self, draft: ProjectDraft, days: int) -> tuple[dt.date, dt.date]:
        """A `days`-long stretch inside the project period, starting by REFERENCE_DATE."""
        assert draft.start_date is not None and draft.end_date is not None
        latest = min(REFERENCE_DATE, draft.end_date - dt.timedelta(days=days))
        span = max(0, (latest - draft.start_date).days)
        begin = draft.start_date + dt.timedelta(days=self.rng.randint(0, span))
        return begin, begin + dt.timedelta(days=days)

    @staticmethod
    def _years_so_far(draft: ProjectDraft) -> float:
        assert draft.start_date is not None and draft.end_date is not None
        until = min(draft.end_date, REFERENCE_DATE)
        return max(0.25, (until - draft.start_date).days / 365.25)

    # -- technical cooperation -----------------------------------------------------------

    def _dispatches(self, draft: ProjectDraft, fld: FieldSpec) -> list[DispatchDraft]:
        rng = self.rng
        japanese, third = self._japanese(draft), self._third(draft)
        partner_side = self._partner_side(draft)
        hosts = self._institutions(draft, R.PARTNER_LEAD, R.PARTNER_PARTICIPANT)
        dispatches = []
        for _ in range(max(2, round(self._years_so_far(draft) * rng.uniform(2, 6)))):
            if third and rng.random() < 0.12:
                expert = rng.choice(third)
                origin = self._country(expert)
            else:
                expert, origin = rng.choice(japanese), "JP"
            host = rng.choice(hosts)
            days = rng.choice(
                (
                    rng.randint(14, 45),
                    rng.randint(14, 45),
                    rng.randint(46, 120),
                    rng.randint(121, 183),
                )
            )
            start, end = self._within(draft, days)
            local = [p for p in partner_side if p.institution == host] or partner_side
            counterparts = rng.sample(local, min(len(local), rng.randint(1, 3)))
            purpose = rng.choice(DISPATCH_PURPOSES).format(skill=rng.choice(fld.skills))
            dispatches.append(
                DispatchDraft(expert, origin, host, start, end, purpose, tuple(counterparts))
            )
        return sorted(dispatches, key=lambda d: (d.start, d.end))

    def _courses(self, draft: ProjectDraft, fld: FieldSpec) -> list[CourseDraft]:
        rng = self.rng
        japanese = self._institutions(draft, R.JAPANESE_LEAD, R.JAPANESE_PARTICIPANT)
        partners = self._institutions(draft, R.PARTNER_LEAD, R.PARTNER_PARTICIPANT)
        third = self._institutions(draft, R.THIRD_COUNTRY)
        trainees = self._partner_side(draft)
        kinds = [*JAPAN_COURSES, CourseType.IN_COUNTRY]
        weights = [15, 20, 10, 45]
        if third:
            kinds.append(CourseType.THIRD_COUNTRY)
            weights.append(15)
        courses = []
        for _ in range(max(1, round(self._years_so_far(draft) * rng.uniform(0.8, 1.8)))):
            kind = rng.choices(kinds, weights)[0]
            skill = rng.choice(fld.skills)
            if kind in JAPAN_COURSES:
                host: str = rng.choice(japanese)
                days, seats = rng.randint(21, 70), rng.randint(1, 3)
                topic = rng.choice(fld.courses)
                title = {
                    CourseType.GROUP_REGION_FOCUS: f"Knowledge Co-Creation Program: {topic} "
                    f"for {REGION[draft.countries[0]]}",
                    CourseType.COUNTRY_FOCUS: f"Country-focused training in Japan: {topic} "
                    f"for {_country_name(draft.countries[0])}",
                    CourseType.YOUNG_LEADERS: f"Young Leaders Program: {topic}",
                }[kind]
            elif kind == CourseType.THIRD_COUNTRY:
                host = rng.choice(third)
                days, seats = rng.randint(7, 21), rng.randint(1, 3)
                spec = INSTITUTION_BY_KEY[host]
                title = f"Third-country training at {spec.acronym or spec.name_en}: {skill}"
            else:
                host = rng.choice(partners)
                days, seats = rng.randint(3, 10), rng.randint(3, 8)
                title = f"In-country training on {skill}"
            host_country = INSTITUTION_BY_KEY[host].country
            start, end = self._within(draft, days)
            local = [p for p in trainees if self._country(p) == host_country] or trainees
            pool = local if kind == CourseType.IN_COUNTRY else trainees
            participants = rng.sample(pool, min(len(pool), seats))
            outcome = rng.choice(COURSE_OUTCOMES) if end < REFERENCE_DATE else None
            courses.append(
                CourseDraft(
                    title, kind, host, host_country, start, end, outcome, tuple(participants)
                )
            )
        return sorted(courses, key=lambda c: (c.start, c.end))

    def _equipment(self, draft: ProjectDraft, fld: FieldSpec) -> list[EquipmentDraft]:
        rng = self.rng
        assert draft.start_date is not None and draft.end_date is not None
        partners = self._institutions(draft, R.PARTNER_LEAD, R.PARTNER_PARTICIPANT)
        period = (draft.end_date - draft.start_date).days
        items = []
        for gear in rng.sample(fld.gear, rng.randint(3, 7)):
            recipient = rng.choice(partners)
            quantity = rng.randint(*gear.quantity)
            yen = rng.randint(*gear.yen) * 1000 * quantity
            draw = rng.random()
            currency = (
                "JPY"
                if draw < 0.75
                else "USD"
                if draw < 0.87
                else CURRENCY[INSTITUTION_BY_KEY[recipient].country]
            )
            value = Decimal(yen) / Decimal(str(YEN_PER_UNIT.get(currency, 1.0)))
            step = (
                Decimal(1000)
                if currency == "JPY"
                else Decimal(1)
                if currency in ZERO_DECIMAL_CURRENCIES
                else Decimal("0.01")
            )
            value = (value / step).quantize(Decimal(1)) * step
            delivery = draft.start_date + dt.timedelta(
                days=int(rng.triangular(30, period * 0.75, 240))
            )
            # Nothing is on order for years: what is not delivered arrives within six months.
            soon = REFERENCE_DATE + dt.timedelta(days=rng.randint(20, 180))
            delivery = min(delivery, soon, draft.end_date)
            age = (REFERENCE_DATE - delivery).days
            status = (
                EquipmentStatus.ORDERED
                if age < 0
                else EquipmentStatus.DELIVERED
                if age <= 90
                else EquipmentStatus.OUT_OF_SERVICE
                if age > 3 * 365 and rng.random() < 0.15
                else EquipmentStatus.IN_USE
            )
            items.append(
                EquipmentDraft(
                    gear.item, gear.category, quantity, value, currency, recipient, delivery, status
                )
            )
        return sorted(items, key=lambda e: (e.delivery, e.item))

    # -- PDM -----------------------------------------------------------------------------

    def _pdm(self, draft: ProjectDraft, fld: FieldSpec, *, measured: bool) -> list[ElementDraft]:
        rng = self.rng
        pool = [*fld.outputs, *GENERIC_OUTPUTS]
        chosen = sorted(rng.sample(range(len(pool)), rng.randint(3, 5)))
        outputs = []
        for position, index in enumerate(chosen, start=1):
            spec = pool[index]
            activities = sorted(rng.sample(range(len(spec.activities)), rng.randint(2, 4)))
            outputs.append(
                ElementDraft(
                    PdmLevel.OUTPUT,
                    position,
                    spec.description,
                    self._indicators(draft, spec.indicators, measured=measured),
                    tuple(
                        ElementDraft(PdmLevel.ACTIVITY, n, f"{position}-{n}. {spec.activities[a]}")
                        for n, a in enumerate(activities, start=1)
                    ),
                )
            )
        goal = ElementDraft(
            PdmLevel.OVERALL_GOAL,
            0,
            fld.goal,
            self._indicators(draft, fld.goal_indicators, measured=measured, pace=0.4),
        )
        purpose = ElementDraft(
            PdmLevel.PROJECT_PURPOSE,
            0,
            fld.purpose,
            self._indicators(draft, fld.purpose_indicators, measured=measured, pace=0.8),
            tuple(outputs),
        )
        return [goal, purpose]

    def _indicators(
        self,
        draft: ProjectDraft,
        specs: Sequence[IndicatorSpec],
        *,
        measured: bool,
        pace: float = 1.0,
    ) -> tuple[IndicatorDraft, ...]:
        rng = self.rng
        chosen = sorted(rng.sample(range(len(specs)), rng.randint(1, min(2, len(specs)))))
        indicators = []
        for spec in (specs[i] for i in chosen):
            baseline = Decimal(rng.randint(*spec.baseline))
            target = Decimal(rng.randint(*spec.target))
            measurements = (
                self._measurements(draft, baseline, target, spec.unit, pace) if measured else ()
            )
            indicators.append(
                IndicatorDraft(
                    spec.description, spec.unit, baseline, target, spec.verification, measurements
                )
            )
        return tuple(indicators)

    def _measurements(
        self, draft: ProjectDraft, baseline: Decimal, target: Decimal, unit: str, pace: float
    ) -> tuple[tuple[dt.date, Decimal, str], ...]:
        """A baseline survey, then yearly values moving from the baseline toward the target."""
        assert draft.start_date is not None and draft.end_date is not None
        months = _months_between(draft.start_date, draft.end_date)
        achieved = min(1.0, pace * self.rng.uniform(0.7, 1.15))
        curve = self.rng.uniform(0.8, 1.4)
        step = Decimal("0.1") if unit in ("%", "t/ha", "days") else Decimal(1)
        rows = []
        for month in (3, *range(12, months + 1, 12)):
            day = add_months(draft.start_date, month) - dt.timedelta(days=1)
            if day > REFERENCE_DATE:
                break
            share = 0.0 if month == 3 else achieved * (month / months) ** curve
            value = baseline + (target - baseline) * Decimal(str(round(share, 4)))
            note = (
                "Baseline survey"
                if month == 3
                else "Terminal evaluation"
                if month == months
                else f"Annual monitoring, year {month // 12}"
            )
            rows.append((day, value.quantize(step), note))
        return tuple(rows)

    # -- monitoring and evaluation -------------------------------------------------------

    def _meetings(self, draft: ProjectDraft) -> list[MeetingDraft]:
        assert draft.start_date is not None and draft.end_date is not None
        meetings = []
        for year in itertools.count():
            held = add_months(draft.start_date, 12 * year + 1) + dt.timedelta(
                days=self.rng.randint(0, 40)
            )
            if held > min(draft.end_date, REFERENCE_DATE):
                break
            minutes = (
                f"{_ordinal(year + 1)} JCC meeting of {draft.acronym}: progress of the outputs "
                "and the work plan for the coming year reviewed."
            )
            decisions = " ".join(self.rng.sample(JCC_DECISIONS, 2))
            meetings.append(MeetingDraft(held, minutes, decisions))
        return meetings

    def _reports(self, draft: ProjectDraft) -> list[ReportDraft]:
        assert draft.start_date is not None and draft.end_date is not None
        reports = []
        for n in itertools.count(1):
            begin = add_months(draft.start_date, 6 * (n - 1))
            end = add_months(draft.start_date, 6 * n) - dt.timedelta(days=1)
            submitted = end + dt.timedelta(days=self.rng.randint(10, 45))
            if end > draft.end_date or submitted > REFERENCE_DATE:
                break
            summary = self.rng.choice(REPORT_SUMMARIES)
            reports.append(
                ReportDraft(begin, end, submitted, summary, f"MR {draft.acronym} {n:02d}")
            )
        return reports

    def _ex_ante(self, draft: ProjectDraft, planning: dt.date) -> EvaluationDraft:
        day = min(planning + dt.timedelta(days=self.rng.randint(20, 90)), REFERENCE_DATE)
        return EvaluationDraft(
            EvaluationKind.EX_ANTE,
            day,
            EVALUATION_TEXT[EvaluationKind.EX_ANTE],
            f"Ex-ante evaluation sheet {draft.acronym}",
        )

    def _evaluations(
        self, draft: ProjectDraft, steps: Mapping[ProjectPhase, dt.date]
    ) -> list[EvaluationDraft]:
        rng = self.rng
        assert draft.start_date is not None and draft.end_date is not None
        months = _months_between(draft.start_date, draft.end_date)
        evaluations = []
        mid = add_months(draft.start_date, months // 2) + dt.timedelta(days=rng.randint(0, 60))
        if mid <= REFERENCE_DATE:
            evaluations.append(
                EvaluationDraft(
                    EvaluationKind.MID_TERM_REVIEW,
                    mid,
                    EVALUATION_TEXT[EvaluationKind.MID_TERM_REVIEW],
                    f"Mid-term review report {draft.acronym} {mid:%Y}",
                )
            )
        if P.COMPLETED in steps:
            day = draft.end_date - dt.timedelta(days=rng.randint(60, 150))
            evaluations.append(
                EvaluationDraft(
                    EvaluationKind.TERMINAL,
                    day,
                    EVALUATION_TEXT[EvaluationKind.TERMINAL],
                    f"Terminal evaluation report {draft.acronym} {day:%Y}",
                    lessons=self._lessons(),
                )
            )
        if P.EX_POST_EVALUATED in steps:
            day = steps[P.EX_POST_EVALUATED]
            assert day >= _add_years(draft.end_date, 2)
            ratings = tuple(
                rng.choices(list(DacRating), weights=(30, 45, 20, 5))[0] for _ in DAC_CRITERIA
            )
            evaluations.append(
                EvaluationDraft(
                    EvaluationKind.EX_POST,
                    day,
                    EVALUATION_TEXT[EvaluationKind.EX_POST],
                    f"Ex-post evaluation report {draft.acronym} {day:%Y}",
                    ratings,
                    self._lessons(),
                )
            )
        return evaluations

    def _lessons(self) -> tuple[str, ...]:
        return tuple(self.rng.sample(LESSONS, self.rng.randint(1, 3)))

    def _materials(self, draft: ProjectDraft, fld: FieldSpec) -> list[MaterialDraft]:
        rng = self.rng
        local = list(dict.fromkeys(LANGUAGE[c] for c in draft.countries))
        materials = []
        titles = rng.sample(fld.materials, rng.choice((0, 1, 1, 2, 2, 3)))
        for n, title in enumerate(titles, start=1):
            language = rng.choices(["en", "ja", rng.choice(local)], weights=(50, 15, 35))[0]
            kind = (
                MaterialKind.DIGITAL_CONTENT
                if title.startswith(("Video", "E-learning", "Lecture series"))
                else MaterialKind.SEMINAR_MATERIAL
            )
            url = (
                f"https://example.org/satreps/{draft.acronym.lower()}/materials/{n}"
                if rng.random() < 0.7
                else None
            )
            materials.append(
                MaterialDraft(
                    f"{title} ({draft.acronym})",
                    kind,
                    language,
                    rng.choice(fld.audiences),
                    rng.choice(LICENCES),
                    url,
                )
            )
        return materials


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
        row = (by_ror.get(spec.ror_id) if spec.ror_id else None) or by_name.get(
            (spec.name_en, spec.country)
        )
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


COOPERATION_TABLES = (
    ExpertDispatch,
    DispatchCounterpart,
    TrainingCourse,
    TrainingParticipant,
    EquipmentItem,
    PdmElement,
    Indicator,
    IndicatorMeasurement,
    JccMeeting,
    MonitoringReport,
    Evaluation,
    LessonLearned,
    FollowUpCooperation,
    LearningMaterial,
)


async def _insert(
    session: AsyncSession,
    model: type[Base],
    rows: Sequence[dict[str, object]],
    counts: Counter[str],
) -> list[int]:
    """Bulk INSERT (executemany); the new ids in the order of `rows` when the table has one."""
    counts[model.__tablename__] += len(rows)
    if not rows:
        return []
    if "id" not in model.__table__.c:
        await session.execute(insert(model), list(rows))
        return []
    statement = insert(model).returning(model.__table__.c.id, sort_by_parameter_order=True)
    return list(await session.scalars(statement, list(rows)))


async def _persist_cooperation(
    session: AsyncSession,
    pairs: Sequence[tuple[ProjectDraft, Project]],
    themes: Mapping[str, Theme],
    institutions: Mapping[str, Institution],
    researchers: Mapping[PersonDraft, Researcher],
) -> Counter[str]:
    """The cooperation rows, as bulk inserts: a few thousand rows, so no ORM unit of work.
    Parents go first and hand their new ids to their children."""
    counts: Counter[str] = Counter()

    def inst(key: str) -> int:
        return institutions[key].id

    def who(person: PersonDraft) -> int:
        return researchers[person].id

    flat: dict[type[Base], list[dict[str, object]]] = defaultdict(list)
    for draft, project in pairs:
        coop, pid = draft.cooperation, project.id
        flat[EquipmentItem] += [
            {
                "project_id": pid,
                "item": q.item,
                "category": q.category,
                "quantity": q.quantity,
                "value": q.value,
                "currency": q.currency,
                "recipient_institution_id": inst(q.recipient),
                "delivery_date": q.delivery,
                "status": q.status,
            }
            for q in coop.equipment
        ]
        flat[JccMeeting] += [
            {
                "project_id": pid,
                "held_on": m.held_on,
                "minutes": m.minutes,
                "decisions": m.decisions,
            }
            for m in coop.meetings
        ]
        flat[MonitoringReport] += [
            {
                "project_id": pid,
                "period_start": r.period_start,
                "period_end": r.period_end,
                "submitted_on": r.submitted_on,
                "summary": r.summary,
                "document_ref": r.document_ref,
            }
            for r in coop.reports
        ]
        flat[FollowUpCooperation] += [
            {
                "project_id": pid,
                "start_date": f.start,
                "end_date": f.end,
                "description": f.description,
            }
            for f in coop.follow_ups
        ]
        flat[LearningMaterial] += [
            {
                "project_id": pid,
                "title": m.title,
                "kind": m.kind,
                "language": m.language,
                "audience": m.audience,
                "licence": m.licence,
                "url": m.url,
            }
            for m in coop.materials
        ]
    for model, rows in flat.items():
        await _insert(session, model, rows, counts)

    dispatches = [
        (draft, project, d) for draft, project in pairs for d in draft.cooperation.dispatches
    ]
    ids = await _insert(
        session,
        ExpertDispatch,
        [
            {
                "project_id": project.id,
                "expert_id": who(d.expert),
                "origin_country": d.origin_country,
                "host_institution_id": inst(d.host),
                "theme_id": themes[draft.theme].id,
                "start_date": d.start,
                "end_date": d.end,
                "purpose": d.purpose,
            }
            for draft, project, d in dispatches
        ],
        counts,
    )
    await _insert(
        session,
        DispatchCounterpart,
        [
            {"dispatch_id": i, "researcher_id": who(p)}
            for i, (_, _, d) in zip(ids, dispatches, strict=True)
            for p in d.counterparts
        ],
        counts,
    )

    courses = [(project, c) for draft, project in pairs for c in draft.cooperation.courses]
    ids = await _insert(
        session,
        TrainingCourse,
        [
            {
                "project_id": project.id,
                "title": c.title,
                "course_type": c.course_type,
                "host_institution_id": inst(c.host) if c.host else None,
                "host_country": c.host_country,
                "start_date": c.start,
                "end_date": c.end,
                "outcome_notes": c.outcome_notes,
            }
            for project, c in courses
        ],
        counts,
    )
    await _insert(
        session,
        TrainingParticipant,
        [
            {"course_id": i, "researcher_id": who(p), "institution_id": inst(p.institution)}
            for i, (_, c) in zip(ids, courses, strict=True)
            for p in c.participants
        ],
        counts,
    )

    evaluations = [(project, e) for draft, project in pairs for e in draft.cooperation.evaluations]
    ids = await _insert(
        session,
        Evaluation,
        [
            {
                "project_id": project.id,
                "kind": e.kind,
                "evaluated_on": e.evaluated_on,
                "summary": f"{e.summary} Demo data: fictional.",
                "document_ref": e.document_ref,
                **dict.fromkeys(DAC_CRITERIA),
                **(dict(zip(DAC_CRITERIA, e.ratings, strict=True)) if e.ratings else {}),
            }
            for project, e in evaluations
        ],
        counts,
    )
    await _insert(
        session,
        LessonLearned,
        [
            {"project_id": project.id, "evaluation_id": i, "text": text}
            for i, (project, e) in zip(ids, evaluations, strict=True)
            for text in e.lessons
        ],
        counts,
    )

    # The PDM, one level at a time: (project id, parent id, element) -> ids -> children.
    level: list[tuple[int, int | None, ElementDraft]] = [
        (project.id, None, e) for draft, project in pairs for e in draft.cooperation.pdm
    ]
    while level:
        ids = await _insert(
            session,
            PdmElement,
            [
                {
                    "project_id": pid,
                    "level": e.level,
                    "parent_id": parent,
                    "position": e.position,
                    "description": e.description,
                }
                for pid, parent, e in level
            ],
            counts,
        )
        indicators = [(i, x) for i, (_, _, e) in zip(ids, level, strict=True) for x in e.indicators]
        indicator_ids = await _insert(
            session,
            Indicator,
            [
                {
                    "element_id": i,
                    "description": x.description,
                    "unit": x.unit,
                    "baseline": x.baseline,
                    "target": x.target,
                    "means_of_verification": x.verification,
                }
                for i, x in indicators
            ],
            counts,
        )
        await _insert(
            session,
            IndicatorMeasurement,
            [
                {
                    "indicator_id": i,
                    "measured_on": day,
                    "value": value,
                    "unit": x.unit,
                    "note": note,
                }
                for i, (_, x) in zip(indicator_ids, indicators, strict=True)
                for day, value, note in x.measurements
            ],
            counts,
        )
        level = [
            (pid, i, child)
            for i, (pid, _, e) in zip(ids, level, strict=True)
            for child in e.children
        ]
    return counts


async def _persist(
    session: AsyncSession, drafts: Sequence[ProjectDraft], themes: Mapping[str, Theme]
) -> dict[str, int]:
    """Two flushes (the rows others point at, then every link between them), then the
    cooperation records as bulk inserts, parents before children."""
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
    pairs = list(zip(drafts, projects, strict=True))
    cooperation = await _persist_cooperation(session, pairs, themes, institutions, researchers)

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
        **{table.__tablename__: cooperation[table.__tablename__] for table in COOPERATION_TABLES},
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
    counts = await _persist(session, drafts, themes)
    from server.analytics import refresh_stats

    await refresh_stats(session)  # themeStats' figures, without waiting for the workers
    return counts


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
