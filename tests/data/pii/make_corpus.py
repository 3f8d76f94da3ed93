# ruff: noqa: E501  (template and vocabulary tables read better unwrapped)
"""Generate the labelled PII evaluation corpus (``corpus.jsonl``) with a fixed seed.

Each line is ``{"id", "language", "text", "entities": [{"type", "start", "end"}]}``
with character offsets. Templates are CRM-style texts (call-centre notes,
complaint e-mails, delivery notes, imported spreadsheet cells, mixed Korean
and English); slots are filled with synthetic but well-formed values
(checksums computed, never real people) and with hard negatives that look like
PII but are not (order and tracking numbers, amounts, dates, invalid-checksum
numbers, product codes, version strings).

Run: ``python tests/data/pii/make_corpus.py`` (rewrites corpus.jsonl next to it).
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Callable
from pathlib import Path

SEED = 20240601
N_TEXTS = 420
OUT = Path(__file__).with_name("corpus.jsonl")

KO_SURNAMES = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권", "황", "안", "송", "전", "홍", "유", "고", "문", "양", "손", "배", "백", "허", "남", "노", "하", "곽", "성", "차", "주", "우", "구", "민", "진"]
KO_GIVEN = ["민준", "서연", "지우", "하은", "도윤", "서준", "예준", "시우", "하준", "주원", "지호", "지유", "서윤", "민서", "수아", "지민", "현우", "준서", "건우", "유진", "채원", "지원", "수빈", "은서", "다은", "예은", "소율", "윤서", "태윤", "승현", "재훈", "성민", "영수", "영희", "철수", "미경", "정희", "은정", "혜진", "상훈", "동현", "경민", "수진", "지혜", "민지", "하늘", "보람", "슬기", "한결", "나래", "초롱", "아름", "다솜", "가람", "우진", "시현", "은우", "연우", "지안", "하린", "서아", "정우", "광수", "순자", "영자", "옥순", "말순", "종훈", "기현", "석진", "남준", "호석", "윤기", "태형", "정국", "혜리", "나연", "유나", "세정", "상민", "병철", "재석", "명수", "준하", "형돈", "길", "준", "솔", "빈"]
EN_FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Daniel", "Karen", "Matthew", "Nancy", "Anthony", "Lisa", "Mark", "Betty", "Olivia", "Liam", "Noah", "Emma", "Ava", "Sophia", "Lucas", "Mia", "Ethan", "Harper", "Aiden", "Chloe", "Grace", "Nathan", "Hannah", "Priya", "Arjun", "Sofia", "Mateo", "Yuki", "Kenji", "Fatima", "Omar", "Ingrid", "Lars", "Siobhan", "Declan"]
EN_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "O'Brien", "McCarthy", "Novak", "Kowalski", "Fischer", "Larsen", "Okafor", "Tanaka", "Nakamura", "Haddad", "Moreau", "Rossi", "Silva", "Petrov", "Lindqvist"]
KO_ROMAN_SURNAMES = ["Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Oh", "Shin", "Kwon", "Hwang", "Ahn", "Song", "Hong"]
KO_ROMAN_GIVEN = ["Minjun", "Seoyeon", "Jiwoo", "Ha-eun", "Do-yoon", "Seo-jun", "Ji-ho", "Min-seo", "Hyun-woo", "Yu-jin", "Su-bin", "Jae-hoon"]
EMAIL_DOMAINS = (
    ["naver.com", "gmail.com", "daum.net", "hanmail.net", "kakao.com", "nate.com", "company.co.kr", "example.org", "outlook.com"]
)
KO_ROADS = [
    ("서울특별시", "강남구", "테헤란로"), ("서울시", "마포구", "월드컵북로"), ("서울", "송파구", "올림픽로"),
    ("부산광역시", "해운대구", "센텀중앙로"), ("경기도 성남시", "분당구", "판교역로"), ("경기도 수원시", "영통구", "광교로"),
    ("인천광역시", "연수구", "컨벤시아대로"), ("대구광역시", "수성구", "달구벌대로"), ("광주광역시", "서구", "상무중앙로"),
    ("대전광역시", "유성구", "대학로"), ("제주특별자치도 제주시", "", "첨단로"), ("경상남도 창원시", "의창구", "중앙대로"),
    ("울산광역시", "남구", "삼산로"), ("충청북도 청주시", "흥덕구", "직지대로"), ("강원특별자치도 춘천시", "", "중앙로"),
]  # fmt: skip
KO_DONGS = [("서울특별시", "강남구", "역삼동"), ("서울", "서초구", "반포동"), ("부산", "수영구", "광안동"),
            ("경기도 고양시", "일산동구", "장항동"), ("대전", "서구", "둔산동"), ("전라북도 전주시", "완산구", "효자동")]  # fmt: skip
ROMAN_ROADS = ["Teheran-ro", "Sejong-daero", "Olympic-ro", "Gangnam-daero", "Haeundae-ro", "Jungang-daero",
               "Teheran-ro 20-gil", "Dosan-daero 45-gil"]
ROMAN_AREAS = [("Gangnam-gu", "Seoul"), ("Jongno-gu", "Seoul"), ("Songpa-gu", "Seoul"), ("Haeundae-gu", "Busan"),
               ("Mapo-gu", "Seoul"), ("Bundang-gu, Seongnam-si", "Gyeonggi-do")]
EN_STREETS = ["Main Street", "Oak Avenue", "Maple Drive", "Baker Street", "Elm Road", "Sunset Boulevard", "Park Lane", "Cedar Court", "High Street", "Pine St"]
EN_CITIES = ["Springfield, IL 62704", "Austin, TX 78701", "London SW1A 1AA", "Seattle, WA 98101", "Boston, MA 02110"]
BANKS = {
    "국민은행": (6, 2, 6), "KB국민": (6, 2, 6), "신한은행": (3, 3, 6), "우리은행": (4, 3, 6), "하나은행": (3, 6, 5),
    "농협": (3, 4, 4, 2), "NH농협": (3, 4, 4, 2), "IBK기업은행": (3, 6, 2, 3), "카카오뱅크": (4, 2, 7),
    "토스뱅크": (4, 4, 4), "케이뱅크": (3, 3, 6), "우체국": (6, 2, 6),
}  # fmt: skip

Value = tuple[str, str | None]  # (text, entity type or None for a hard negative)


class Gen:
    """Value generators; each returns the surface text of one slot."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def digits(self, n: int) -> str:
        return "".join(self.r.choice(string.digits) for _ in range(n))

    # --- identifiers -----------------------------------------------------------------
    def _birth(self, post2000: bool) -> str:
        y = self.r.randint(0, 23) if post2000 else self.r.randint(45, 99)
        m = self.r.randint(1, 12)
        d = self.r.randint(1, 28)
        return f"{y:02d}{m:02d}{d:02d}"

    def rrn(self) -> str:
        post = self.r.random() < 0.3
        birth = self._birth(post)
        g = self.r.choice("34" if post else "12")
        body = birth + g + self.digits(5)
        if self.r.random() < 0.75:  # pre-2020 issue: valid check digit
            s = sum(int(a) * w for a, w in zip(body, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), strict=True))
            body += str((11 - s % 11) % 10)
        else:  # post-2020 issue: random last digit
            body += self.digits(1)
        return self._rrn_format(body)

    def _rrn_format(self, body: str) -> str:
        return body if self.r.random() < 0.2 else f"{body[:6]}-{body[6:]}"

    def frn(self) -> str:
        post = self.r.random() < 0.3
        body = self._birth(post) + self.r.choice("78" if post else "56") + self.digits(5)
        s = sum(int(a) * w for a, w in zip(body, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), strict=True))
        body += str((13 - s % 11) % 10)
        return self._rrn_format(body)

    def phone(self) -> str:
        mid, last = self.digits(4), self.digits(4)
        style = self.r.randrange(11)
        prefix = self.r.choice(["010"] * 6 + ["011", "016", "017", "019"])
        return [
            f"{prefix}-{mid}-{last}", f"{prefix}{mid}{last}", f"{prefix} {mid} {last}", f"+82 10 {mid} {last}",
            f"+82-10-{mid}-{last}", f"02-{self.digits(3)}-{last}", f"031-{mid}-{last}",
            f"{self.r.choice(['1588', '1577', '1544', '1600', '1661'])}-{last}", f"{prefix}.{mid}.{last}",
            f"051-{self.digits(3)}-{last}", f"070-{mid}-{last}",
        ][style]  # fmt: skip

    def phone_en(self) -> str:
        a, b, c = self.r.randint(201, 989), self.r.randint(200, 999), self.digits(4)
        return self.r.choice(
            [f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a} {b} {c}", f"+44 20 7946 {c}", f"+1-{a}-{b}-{c}", f"{a}.{b}.{c}"]
        )

    def email(self, name: str | None = None) -> str:
        user = name or "".join(self.r.choice(string.ascii_lowercase) for _ in range(self.r.randint(4, 9)))
        if self.r.random() < 0.4:
            user += self.r.choice([".", "_", ""]) + self.digits(self.r.randint(1, 4))
        return f"{user}@{self.r.choice(EMAIL_DOMAINS)}"

    def card(self) -> str:
        prefix = self.r.choice(["4", "51", "52", "55", "9410", "37"])
        length = 15 if prefix == "37" else 16
        body = prefix + self.digits(length - len(prefix) - 1)
        for check in string.digits:
            if _luhn(body + check):
                number = body + check
                break
        if length == 15:
            return f"{number[:4]} {number[4:10]} {number[10:]}"
        sep = self.r.choice(["-", " ", ""])
        return sep.join(number[i : i + 4] for i in range(0, 16, 4))

    def passport(self) -> str:
        letter = self.r.choice("MMMMSR")
        return letter + (
            self.digits(8) if self.r.random() < 0.7 else f"{self.digits(3)}{self.r.choice('ABCDE')}{self.digits(4)}"
        )

    def driver_license(self) -> str:
        region = self.r.randint(11, 28)
        if self.r.random() < 0.2:
            return (
                f"{self.r.choice(['서울', '부산', '경기', '대구'])} {self.digits(2)}-{self.digits(6)}-{self.digits(2)}"
            )
        return f"{region}-{self.digits(2)}-{self.digits(6)}-{self.digits(2)}"

    def brn(self) -> str:
        while True:
            body = self.digits(9)
            for check in string.digits:
                if _brn_ok(body + check):
                    n = body + check
                    return f"{n[:3]}-{n[3:5]}-{n[5:]}" if self.r.random() < 0.85 else n

    def bank_account(self) -> tuple[str, str]:
        bank = self.r.choice(list(BANKS))
        groups = BANKS[bank]
        number = "-".join(self.digits(g) for g in groups)
        if self.r.random() < 0.2:
            number = number.replace("-", "")
        return bank, number

    def ip(self) -> str:
        if self.r.random() < 0.15:
            return f"2001:db8:{self.r.randint(1, 0xFFFF):x}::{self.r.randint(1, 0xFFFF):x}"
        return ".".join(str(self.r.randint(1, 254)) for _ in range(4))

    def iban(self) -> str:
        country, bban = self.r.choice(
            [("DE", self.digits(18)), ("GB", "NWBK" + self.digits(14)), ("FR", self.digits(23))]
        )
        check = 98 - _iban_mod(bban + country + "00")
        compact = f"{country}{check:02d}{bban}"
        return compact if self.r.random() < 0.5 else " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))

    # --- names and addresses -------------------------------------------------------
    def name_ko(self) -> str:
        return self.r.choice(KO_SURNAMES) + self.r.choice(KO_GIVEN)

    def name_en(self) -> str:
        if self.r.random() < 0.2:
            first, last = self.r.choice(KO_ROMAN_GIVEN), self.r.choice(KO_ROMAN_SURNAMES)
            return f"{last} {first}" if self.r.random() < 0.5 else f"{first} {last}"
        return f"{self.r.choice(EN_FIRST)} {self.r.choice(EN_LAST)}"

    def addr_ko(self) -> str:
        if self.r.random() < 0.7:
            prov, gu, road = self.r.choice(KO_ROADS)
            parts = [prov, gu, f"{road} {self.r.randint(1, 399)}"]
        else:
            prov, gu, dong = self.r.choice(KO_DONGS)
            parts = [prov, gu, f"{dong} {self.r.randint(1, 999)}-{self.r.randint(1, 99)}"]
        text = " ".join(p for p in parts if p)
        if self.r.random() < 0.4:
            text += f", {self.r.randint(101, 120)}동 {self.r.randint(1, 25)}0{self.r.randint(1, 4)}호"
        return text

    def addr_en(self) -> str:
        text = f"{self.r.randint(1, 9999)} {self.r.choice(EN_STREETS)}"
        if self.r.random() < 0.3:
            text += f", Apt {self.r.randint(1, 40)}{self.r.choice('ABCD')}"
        if self.r.random() < 0.7:
            text += f", {self.r.choice(EN_CITIES)}"
        return text

    def dob_ko(self) -> str:
        y, m, d = self.r.randint(1950, 2005), self.r.randint(1, 12), self.r.randint(1, 28)
        return self.r.choice([f"{y}년 {m}월 {d}일", f"{y}.{m:02d}.{d:02d}", f"{y}-{m:02d}-{d:02d}", f"{y}{m:02d}{d:02d}"])

    def dob_en(self) -> str:
        y, m, d = self.r.randint(1950, 2005), self.r.randint(1, 12), self.r.randint(1, 28)
        month = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                 "November", "December"][m - 1]
        return self.r.choice([f"{month} {d}, {y}", f"{d} {month} {y}", f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y}"])

    def addr_rom(self) -> str:
        road = self.r.choice(ROMAN_ROADS)
        gu, city = self.r.choice(ROMAN_AREAS)
        n = self.r.randint(1, 450)
        if self.r.random() < 0.5:
            return f"{n} {road}, {gu}, {city}"
        return f"{road} {n}, {gu}, {city} {self.r.randint(10000, 63999):05d}"

    def passport_lc(self) -> str:
        if self.r.random() < 0.5:
            return f"{self.r.choice('ms')}{self.digits(8)}"
        return f"M{self.digits(3)}{self.r.choice('abcdefgh')}{self.digits(4)}"

    # --- hard negatives --------------------------------------------------------------
    def neg_order(self) -> str:
        return self.r.choice(
            [
                f"ORD-2024{self.digits(4)}-{self.digits(4)}",
                f"2024{self.digits(9)}",
                f"#{self.digits(7)}",
                f"A{self.digits(10)}",
            ]
        )

    def neg_tracking(self) -> str:
        return self.r.choice(
            [
                f"6{self.digits(3)}-{self.digits(4)}-{self.digits(4)}",
                f"1Z{self.digits(3)}AA{self.digits(10)}",
                self.digits(12),
            ]
        )

    def neg_amount(self) -> str:
        return self.r.choice(
            [
                f"{self.r.randint(1, 999)},{self.digits(3)}원",
                f"₩{self.r.randint(1, 99)},{self.digits(3)}",
                f"${self.r.randint(1, 999)}.{self.digits(2)}",
            ]
        )

    def neg_date(self) -> str:
        y, m, d = self.r.randint(2019, 2025), self.r.randint(1, 12), self.r.randint(1, 28)
        return self.r.choice(
            [f"{y}-{m:02d}-{d:02d}", f"{y}.{m:02d}.{d:02d}", f"{y}년 {m}월 {d}일", f"{m:02d}/{d:02d}/{y}"]
        )

    def neg_bad_card(self) -> str:
        while True:
            n = "4" + self.digits(15)
            if not _luhn(n):
                return "-".join(n[i : i + 4] for i in range(0, 16, 4))

    def neg_bad_rrn(self) -> str:
        return f"{self.r.randint(50, 99)}{self.r.randint(13, 19)}{self.r.randint(10, 28)}-{self.r.choice('1234')}{self.digits(6)}"

    def neg_bad_brn(self) -> str:
        while True:
            n = self.digits(10)
            if not _brn_ok(n):
                return f"{n[:3]}-{n[3:5]}-{n[5:]}"

    def neg_product(self) -> str:
        return self.r.choice([f"SKU-{self.r.choice(['AB', 'KR', 'XL'])}-{self.digits(4)}", f"SM-G{self.digits(3)}N",
                              f"M{self.digits(8)}", f"PRD{self.digits(6)}", f"{self.digits(3)}-{self.digits(2)}-{self.digits(3)}"])  # fmt: skip

    def neg_version(self) -> str:
        return self.r.choice([f"v{self.r.randint(1, 9)}.{self.r.randint(0, 20)}.{self.r.randint(0, 9)}",
                              f"{self.r.randint(1, 12)}.{self.r.randint(0, 9)}.{self.r.randint(0, 9)}.{self.r.randint(0, 99)}",
                              f"iOS {self.r.randint(14, 18)}.{self.r.randint(0, 6)}"])  # fmt: skip

    def neg_time(self) -> str:
        return f"{self.r.randint(0, 23):02d}:{self.r.randint(0, 59):02d}"

    def neg_qty(self) -> str:
        return f"{self.r.randint(1, 20)}개"


def _luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _brn_ok(n: str) -> bool:
    nums = [int(c) for c in n]
    total = sum(a * w for a, w in zip(nums[:9], (1, 3, 7, 1, 3, 7, 1, 3, 5), strict=True)) + nums[8] * 5 // 10
    return (10 - total % 10) % 10 == nums[9]


def _iban_mod(s: str) -> int:
    return int("".join(str(int(c, 36)) for c in s)) % 97


# Slot name -> (generator, entity type or None for a hard negative).
def slots(g: Gen) -> dict[str, tuple[Callable[[], str], str | None]]:
    return {
        "rrn": (g.rrn, "KR_RRN"), "frn": (g.frn, "KR_FRN"), "phone": (g.phone, "PHONE_NUMBER"),
        "phone_en": (g.phone_en, "PHONE_NUMBER"), "email": (g.email, "EMAIL_ADDRESS"), "card": (g.card, "CREDIT_CARD"),
        "passport": (g.passport, "KR_PASSPORT"), "dl": (g.driver_license, "KR_DRIVER_LICENSE"), "brn": (g.brn, "KR_BRN"),
        "ip": (g.ip, "IP_ADDRESS"), "iban": (g.iban, "IBAN_CODE"), "name_ko": (g.name_ko, "PERSON"),
        "name_en": (g.name_en, "PERSON"), "addr_ko": (g.addr_ko, "LOCATION"), "addr_en": (g.addr_en, "LOCATION"),
        "order": (g.neg_order, None), "tracking": (g.neg_tracking, None), "amount": (g.neg_amount, None),
        "date": (g.neg_date, None), "bad_card": (g.neg_bad_card, None), "bad_rrn": (g.neg_bad_rrn, None),
        "bad_brn": (g.neg_bad_brn, None), "product": (g.neg_product, None), "version": (g.neg_version, None),
        "time": (g.neg_time, None), "qty": (g.neg_qty, None), "dob_ko": (g.dob_ko, "DATE_TIME"),
        "dob_en": (g.dob_en, "DATE_TIME"), "addr_rom": (g.addr_rom, "LOCATION"),
        "passport_lc": (g.passport_lc, "KR_PASSPORT"),
    }  # fmt: skip


KO_TEMPLATES = [
    # call-centre notes
    "[상담메모] {name_ko} 고객님 배송 지연 문의. 연락처 {phone}로 회신 요청. 주문번호 {order}",
    "{name_ko}님 전화 옴({time}). 반품 접수, 회수지 {addr_ko}. 금액 {amount} 환불 예정",
    "고객 요청으로 휴대폰 번호를 {phone}으로 변경함. 기존 번호 삭제 완료.",
    "본인확인: 성함 {name_ko}, 생년월일 확인, 주민번호 {rrn} 대조 완료",
    "주민등록번호 {rrn}로 실명인증 실패 → 고객센터 {phone} 안내",
    "외국인 고객 {name_ko}님, 외국인등록번호 {frn} 제출. 여권번호 {passport} 사본 첨부",
    "환불계좌 {bank} {account} (예금주 {name_ko}) 로 {amount} 입금 처리",
    "{bank} 계좌 {account}으로 송금 부탁드립니다. 주문 {order} 건",
    "사업자등록번호 {brn} 세금계산서 발행 요청, 담당자 {name_ko} 과장 {phone}",
    "법인 고객 사업자번호 {brn}, 이메일 {email}로 계산서 송부",
    "운전면허번호 {dl} 로 신분 확인함. 차량 인도 {date}",
    "로그인 이상징후: {ip}에서 {time}에 접속 시도 5회. 계정 잠금",
    "접속 IP {ip}, 앱 버전 {version}, 단말 {product}",
    "{email}으로 비밀번호 재설정 메일 발송했으나 미수신 문의",
    "카드번호 {card} 결제 취소 요청 ({amount})",
    "결제수단 변경: 기존 카드 {bad_card}는 유효하지 않아 {card}로 재결제",
    "배송지 변경 요청: {addr_ko}. 수령인 {name_ko} {phone}",
    "택배 송장번호 {tracking} 조회 안됨, 고객 {name_ko}님께 {date}까지 재안내",
    "[배송메모] 부재시 경비실에 맡겨주세요. {addr_ko} / {phone}",
    "주문 {order} 상품 {product} {qty} 출고 완료. 송장 {tracking}",
    "모델명 {product}, 펌웨어 {version} 업데이트 후 오류 발생 문의",
    "{date} {time} 방문 예약, {name_ko} 고객 ({phone})",
    "불만 접수: 상담원 응대 불친절. 고객 {name_ko}, 회신 메일 {email}",
    "신규 가입 {name_ko}님 환영 문자 발송 ({phone})",
    "{name_ko} 씨가 주민번호 {rrn} 알려주심 - 보안상 마스킹 필요",
    "주민번호 형식 오류({bad_rrn}) 재입력 요청",
    "사업자번호 {bad_brn} 검증 실패, 고객에게 재확인 요청",
    "여권번호는 {passport}이고 만료일은 {date}입니다",
    "우수 고객님 대상 쿠폰 {qty} 발송, 사용기한 {date}, 결제액 {amount} 이상",
    "고객센터 대표번호로 안내함. 처리 완료 ({date})",
    "담당자 {name_ko} 대리에게 이관, 내선 {time}",
    "{name_ko} 고객님 {addr_ko} 거주, 연락처 {phone}, 이메일 {email}",
    "주문자 {name_ko} / 수령인 {name_ko} / {addr_ko}",
    "해외결제 IBAN {iban} 으로 환불 요청 (고객 {name_ko})",
    "고객이 보내준 계좌번호 {bank} {account}, 금액 {amount}",
    "영업팀 {name_ko} 팀장 요청: 견적서 {product} {qty}",
    "{phone} 번호로 인증문자 미수신, 통신사 확인 요망",
    "청구서 {order} 관련 문의, 금액 {amount}, 납기 {date}",
    "성명: {name_ko}\n연락처: {phone}\n주소: {addr_ko}",
    "이름 {name_ko}, 면허번호 {dl}, 렌트 기간 {date}~",
    "외국인등록번호({frn}) 및 연락처 {phone} 확인",
    "고객 {name_ko}님께서 {email}로 영수증 요청",
    "서버 로그 {ip} - - [{date}] GET /api/v2 200",
    # dates of birth, delivery numbers beside refund wording, hand-typed passports
    "생년월일 {dob_ko} 확인 후 본인인증 완료, 성함 {name_ko}",
    "{name_ko} 고객님 생일({dob_ko}) 쿠폰 발송, 주문일 {date}",
    "환불 요청 건 운송장번호 {tracking} 확인 부탁드립니다 ({amount})",
    "입금 확인 후 발송 예정, 택배 송장 {tracking}, 주문번호 {order}",
    "여권번호 {passport_lc} 로 면세 구매 확인",
]
EN_TEMPLATES = [
    "Customer {name_en} called about order {order}. Callback number {phone_en}.",
    "Dear {name_en},\nWe received your complaint regarding invoice {order}. Regards, Support Team",
    "Hi, my name is {name_en} and my card {card} was charged twice ({amount}).",
    "Please ship to {addr_en}. Contact: {email}",
    "Refund to IBAN {iban}, account holder {name_en}.",
    "Login from {ip} at {time} flagged as suspicious; app version {version}.",
    "Spoke with Mr. {name_en}; he asked us to update his email to {email}.",
    "Tracking number {tracking} shows delivered on {date}, customer disputes.",
    "Card ending test: {bad_card} failed Luhn, customer re-entered {card}.",
    "Ms. {name_en} ({phone_en}) wants a callback before {time}.",
    "Product {product} x{qty}, total {amount}, order {order}.",
    "Billing address: {addr_en}\nPhone: {phone_en}",
    "Thanks,\n{name_en}\n{email}",
    "Firmware {version} installed, device {product}, no customer data.",
    "Passport number {passport} provided for customs clearance.",
    "Korean customer {name_en} gave RRN {rrn} for tax invoice; mask it.",
    "Driver license {dl} scanned at pickup on {date}.",
    "Business registration number {brn} for the B2B account.",
    "Please wire the refund to {bank} account {account}.",
    "Server {ip} returned 500 for order {order}.",
    "Customer {name_en}, date of birth {dob_en}, asked us to delete the account.",
    "Deliver to {addr_rom}; recipient {name_en}, {phone_en}.",
    "Refund pending, tracking number {tracking}, order {order} placed {date}.",
    "I was born on {dob_en}; please fix the birthday in my profile.",
]
MIX_TEMPLATES = [
    "{name_en} 고객님 (외국인) - 연락처 {phone_en}, email {email}, 배송지 {addr_ko}",
    "VIP {name_ko}님 card {card} 결제 OK, order {order}",
    "Customer {name_ko}님 requested refund to {bank} {account}",
    "CS note: {name_ko} 고객 IP {ip}에서 multiple login, 버전 {version}",
    "Invoice {order} / 사업자등록번호 {brn} / contact {email}",
    "Passport {passport} (여권) and 외국인등록번호 {frn} received",
    "Ship to {addr_en} — 고객 {name_ko}님 해외 주소",
    "연락처 {phone} or {phone_en}, 이메일 {email}",
    "Ship to {addr_rom} (고객 {name_ko}님, DOB {dob_en})",
]
SHEET_TEMPLATES = [
    "{name_ko}",
    "{phone}",
    "{email}",
    "{addr_ko}",
    "{name_en}",
    "{rrn}",
    "{order}",
    "{amount}",
    "{date}",
]


def render(template: str, g: Gen) -> tuple[str, list[dict[str, object]]]:
    table = slots(g)
    text = ""
    entities: list[dict[str, object]] = []
    pending_bank: str | None = None
    for piece in re.split(r"(\{\w+\})", template):
        m = re.fullmatch(r"\{(\w+)\}", piece)
        if not m:
            text += piece
            continue
        slot = m.group(1)
        if slot == "bank":
            pending_bank, account = g.bank_account()
            text += pending_bank
            g._account = account  # type: ignore[attr-defined]
            continue
        if slot == "account":
            value = getattr(g, "_account", None) or g.bank_account()[1]
            g._account = None  # type: ignore[attr-defined]
            entities.append({"type": "KR_BANK_ACCOUNT", "start": len(text), "end": len(text) + len(value)})
            text += value
            continue
        make, entity_type = table[slot]
        value = make()
        if entity_type is not None:
            entities.append({"type": entity_type, "start": len(text), "end": len(text) + len(value)})
        text += value
    return text, entities


def main() -> None:
    rng = random.Random(SEED)
    g = Gen(rng)
    pools = [
        ("ko", KO_TEMPLATES, 0.55),
        ("en", EN_TEMPLATES, 0.25),
        ("mixed", MIX_TEMPLATES, 0.12),
        ("sheet", SHEET_TEMPLATES, 0.08),
    ]
    lines = []
    for i in range(N_TEXTS):
        kind, templates, _ = rng.choices(pools, weights=[p[2] for p in pools])[0]
        template = (
            templates[i % len(templates)] if i < 2 * len(KO_TEMPLATES) and kind == "ko" else rng.choice(templates)
        )
        text, entities = render(template, g)
        language = {"ko": "ko", "en": "en", "mixed": rng.choice(["ko", "en", None]), "sheet": None}[kind]
        lines.append({"id": f"{kind}-{i:04d}", "language": language, "text": text, "entities": entities})
    OUT.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    print(f"wrote {len(lines)} texts, {sum(len(x['entities']) for x in lines)} entities to {OUT}")


if __name__ == "__main__":
    main()
