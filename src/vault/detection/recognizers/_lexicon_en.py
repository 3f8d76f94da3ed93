"""English (and romanised Korean) vocabulary for the name recognizer."""

from __future__ import annotations

from typing import Final

_FIRST_NAMES = """
aaron adam adrian aiden alan albert alex alexander alexandra alice alicia alison amanda amber amelia amy
andrea andrew angela anna anne anthony antonio arthur ashley austin barbara ben benjamin beth betty beverly
bill billy bob bobby brad bradley brandon brenda brian brittany bruce bryan caleb cameron carl carlos carol
caroline carolyn catherine charles charlie charlotte chloe chris christian christina christine christopher
cindy claire clara craig cynthia daisy dale daniel danielle david dean debbie deborah debra denise dennis
derek diana diane donald donna doris dorothy douglas dylan edward elaine eleanor elijah elizabeth ella ellen
emily emma eric erica erin ethan eugene eva evelyn frances frank gabriel gary george georgia gerald gloria
grace greg gregory hannah harold harry heather helen henry holly isaac isabella jack jackson jacob jacqueline
james jamie jane janet janice jared jason jean jeff jeffrey jennifer jeremy jerry jesse jessica jill joan joe
john johnny jonathan jordan jose joseph joshua joyce juan judith judy julia julie justin karen kate katherine
kathleen kathryn kathy keith kelly kenneth kevin kim kimberly kyle larry laura lauren lawrence leah lily linda
lisa logan lori louis lucas lucy luis luke madison margaret maria marie marilyn mark martha martin mary mason
matthew megan melissa mia michael michelle mike nancy natalie nathan nicholas nicole noah oliver olivia oscar
pamela patricia patrick paul peter philip rachel ralph randy raymond rebecca richard rick robert robin roger
ronald rose roy russell ruth ryan samantha samuel sandra sara sarah scott sean sharon shirley sophia sophie
stephanie stephen steve steven susan tammy teresa terry thomas tiffany timothy tina todd tom tony tracy tyler
victoria vincent virginia walter wayne wendy william willie zachary zoe hailey priya raj ahmed mohammed fatima
yuki hiroshi wei li chen mei ana
"""
#: Common given names (US SSA and UK ONS top lists, both sexes), lower-case.
FIRST_NAMES: Final = frozenset(_FIRST_NAMES.split())

_LAST_NAMES = """
smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez wilson
anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis
robinson walker young allen king wright scott torres nguyen hill flores green adams nelson baker hall rivera
campbell mitchell carter roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart
morris morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim
cox ward richardson watson brooks chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo
sanders patel myers long ross foster jimenez powell jenkins perry russell sullivan bell coleman butler
henderson barnes gonzales fisher vasquez simmons romero jordan patterson alexander hamilton graham reynolds
griffin wallace moreno west cole hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford
castro marshall owens harrison fernandez mcdonald woods washington kennedy wells vargas henry chen freeman
webb tucker guzman burns crawford olson simpson porter hunter gordon mendez silva shaw snyder mason dixon
munoz hunt hicks holmes palmer wagner black robertson boyd rose stone salazar fox warren mills meyer rice
schmidt garza daniels ferguson nichols stephens soto weaver ryan gardner payne grant dunn kelley spencer
hawkins arnold pierce hansen peters santos hart bradley knight elliott cunningham duncan armstrong hudson
carroll lane riley andrews ray berry perkins hoffman johnston matthews pena richards willis carpenter lawrence
sandoval wong tanaka suzuki sato yamamoto singh kumar khan ali davies
"""
#: Common surnames (US census and UK top lists), lower-case.
LAST_NAMES: Final = frozenset(_LAST_NAMES.split())

_KOREAN_SURNAMES_LATIN = """
kim lee yi park pak choi choe jung jeong chung kang cho jo yoon yun jang chang lim im han oh seo suh shin shim
kwon hwang ahn an song yoo yu ryu hong jeon jun ko go moon mun yang son bae baek paik heo huh nam noh roh ha
kwak sung seong cha joo ju woo koo ku min jin na ji um eom chae won chun cheon bang gong hyun ham byun yeom
yeo choo do so seok sun seon
"""
#: Romanised Korean surnames.
KOREAN_SURNAMES_LATIN: Final = frozenset(_KOREAN_SURNAMES_LATIN.split())

_KOREAN_GIVEN_SYLLABLES = """
hyeon hyun hyung hyeong hyuk hyeok hwan hwa hoon hun hee hui hye hyo ho ha han hak hae jeong jung joon jun jin
ji jae jong joo ju jee young yeong yoon yun yeon yun yu ye yong yul seung sung seong seon sun seo soo su sook
sol so sang sik shin seok suk min mi myung myeong mun moon kyung kyeong kyu gyu kwang gwang ki gi kook guk
geun keun gun geon woo won wook uk eun eon in il dong do da dae dal tae taek bin bo beom bum byung byeong chul
cheol chan chae chang cheon chun nam na ra ri rin ryung ryeong ran rim ah a ae o on
"""
#: Syllables of romanised Korean given names (Revised Romanisation and common variants).
KOREAN_GIVEN_SYLLABLES: Final = tuple(_KOREAN_GIVEN_SYLLABLES.split())
