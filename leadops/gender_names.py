"""First names for the gender estimate (leadops.gender): data only.

Common Russian/CIS first names and their everyday short forms in Cyrillic (with
ё where it is written; lookups fold ё to е), a few Cyrillic spellings of English
names, and common English names in Latin. Latin spellings of the Cyrillic names
are not listed: leadops.gender derives them with several transliteration schemes.

AMBIGUOUS names are worn by both genders (Саша = Александр or Александра): they
fire no rule of their own and leave the decision to the other evidence. A name
that ends up in two lists (here or through transliteration) counts as ambiguous.
"""

FEMALE_CYRILLIC = """
Августа Агата Агния Аделина Аза Аида Аксинья Алевтина Алёна Алина Алиса Алла Альбина Альфия Алсу Амалия
Амина Анастасия Ангелина Анжела Анжелика Анна Антонина Анфиса Ариадна Арина Асель Асия Ася Айгерим Айгуль
Богдана Божена Валентина Валерия Варвара Василиса Вера Вероника Виктория Виолетта Влада Владислава Галина
Гульнара Гульнур Гульшат Гузель Дана Дарина Дарья Джамиля Диана Диляра Дина Динара Доминика Ева Евгения
Евдокия Екатерина Елена Елизавета Есения Жанна Залина Зарема Зарина Злата Зинаида Зоя Зульфия Зухра Изабелла
Илона Инга Инесса Инна Ирина Ия Камила Камилла Капитолина Карина Катерина Кира Клавдия Клара Кристина Ксения
Лада Лайла Лариса Лейла Лейсан Леся Лиана Лидия Лилиана Лилия Лина Лия Лолита Луиза Любава Любовь Людмила
Ляйсан Мадина Майя Малика Маргарита Марианна Марина Мария Марта Марьям Марьяна Мелания Мила Милана Милена
Милослава Мирослава Наиля Надежда Наталия Наталья Нелли Нигина Ника Нина Нонна Оксана Олеся Олена Ольга
Полина Прасковья Раиса Регина Резеда Римма Роза Розалия Руслана Сабина Сабрина Светлана Севара Серафима
Снежана София Софья Станислава Стефания Сусанна Таисия Тамара Татьяна Ульяна Устинья Фаина Фарида Чулпан
Цветана Эвелина Элеонора Элина Элла Эльвира Эльза Эльмира Эмилия Эмма Юлиана Юлия Яна Ярослава Ганна
Аля Аня Анюта Варя Вика Галя Даша Дуня Зина Ира Катя Ксюша Лена Лера Лида Лиза Люба Люда Люся Маруся Маша
Надя Настя Наташа Оля Поля Рита Света Соня Таня Тася Тома Тоня Уля Юля Ляля Лёля Мариша Нюра Фрося
Мэри Джессика Эмили Кейт Сара Лора Дженнифер Элизабет Кэтрин Эшли Хлоя Оливия
"""

MALE_CYRILLIC = """
Абдулла Азамат Азат Айдар Алан Алексей Алексий Александр Алишер Альберт Амир Анатолий Анвар Андрей Антон
Аркадий Арман Армен Арсен Арсений Артём Артемий Артур Аслан Ахмед Ашот Бахтияр Богдан Борис Бронислав
Вадим Валентин Валерий Василий Вениамин Виктор Виталий Владимир Владислав Влад Всеволод Вячеслав Гавриил
Гаврила Геннадий Георгий Герман Глеб Гордей Григорий Давид Даниил Данил Данила Данияр Демид Демьян Денис
Дмитрий Добрыня Евгений Егор Емельян Ерлан Ефим Жан Захар Зиновий Зураб Иван Игнат Игнатий Игорь Ильдар
Ильнур Ильяс Илья Иннокентий Иосиф Ислам Камиль Карен Кирилл Климент Константин Кузьма Лаврентий Лев
Леон Леонид Леонтий Лука Магомед Макар Максим Марат Марк Мартин Матвей Мирон Мирослав Михаил Мурат Назар
Нодар Никита Никифор Николай Нурлан Олег Остап Павел Пётр Платон Прохор Рамиль Рамзан Рафаэль Рашид Равиль
Радик Ренат Ринат Родион Роман Ростислав Рувим Руслан Рустам Рустем Савва Савелий Самвел Святослав Семён
Сергей Силантий Сослан Станислав Степан Султан Тагир Тарас Тигран Тимофей Тимур Тихон Трофим Фарид Фёдор
Феликс Филипп Фома Хасан Шамиль Эдуард Эльдар Эмиль Эрик Юлиан Юлий Юрий Яков Ян Ярослав Ярополк
Олександр Олексий Андрий Сергий Дмитро Микола Василь Петро Павло Михайло Юрко
Алёша Алик Боря Ваня Вадик Валера Вася Веня Витя Вова Володя Гена Гоша Гриша Даня Дима Егорка Жора Илюша
Кеша Коля Костя Лёша Лёня Макс Митя Миша Паша Петя Рома Сева Сеня Серёжа Славик Стас Стёпа Тёма Тима Толя
Федя Шурик Эдик Юра Ярик
Джон Майкл Дэвид Джеймс Уильям Томас Кевин Брайан Джек Гарри Питер Пол Стивен
"""

AMBIGUOUS_CYRILLIC = """
Саша Саня Женя Валя Шура Слава Стася Сима Мишель Алекс Тоша Ники Рене Ким
"""

FEMALE_LATIN = """
abigail agnes alice alison allison amanda amber amelia amelie amy angela ann anna anne annie ashley ava
barbara beatrice bella betty beverly brenda bridget brittany caitlin camila carmen carol caroline carolyn
catherine charlotte cheryl chloe christina christine cindy claire clara cynthia daisy danielle deborah debra
denise diana diane donna doris dorothy eleanor elena elise elizabeth ella ellie emilia emily emma erin esther
eva evelyn fiona florence frances gabriela gabrielle georgia gina gloria grace hannah harriet hazel heather
heidi helen holly ingrid irene iris isabel isabella isabelle ivy jacqueline jade jane janet janice jasmin
jasmine jenna jennifer jenny jessica joan joanna josephine joyce judith judy julia julie karen karin kate
katherine kathleen kathryn kathy katie kayla kelly kimberly kirsten kristen kristina laila laura lauren leah
leila lillian lily linda lisa lola lori louise lucia lucy lydia madison mandy margaret maria marie marilyn
martha mary maya megan melanie melissa mia michelle miranda molly monica nadia nancy naomi natalie natasha
nicole nina nora olivia pamela patricia paula pauline penelope phoebe priscilla rachel rebecca rita rosa rose
ruby ruth sabrina sally samantha sandra sara sarah selena serena sharon shirley sienna silvia sofia sophia
sophie stella stephanie susan susanna sylvia tara teresa tessa theresa tiffany tina ursula valerie vanessa
veronica victoria violet virginia vivian wendy whitney yasmin yvonne zara zoe
"""

MALE_LATIN = """
aaron adam adrian ahmed alan albert alexander andrew anthony antonio arthur austin benjamin ben billy bob
bobby brandon brian bruce bryan carl carlos charles christian christopher daniel dave david dennis diego
donald douglas dylan edward elijah eric ethan eugene felix finn francis frank fred gabriel gary george
gerald giovanni gregory hans harold harry hassan henry hugo jack jacob jake james jason jeff jeffrey jeremy
jerry joe john jonathan jose joseph joshua juan justin keith kenneth kevin klaus kyle larry lars lawrence
leo leon liam logan louis luca lucas luis luke marco marcus mark mason matthew michael miguel mike mohammed
muhammad nathan nicholas nick noah omar oliver oscar pablo patrick paul pedro peter philip pierre quentin
ralph randy raymond richard robert roger ronald roy russell ryan samuel scott sean simon stefan stephen
steve steven sven terry theo thomas tim timothy tom tyler victor vincent walter wayne william zachary
"""

AMBIGUOUS_LATIN = """
alex alexis ali andrea billie casey charlie chris drew frankie jamie jean jesse jody jordan kai lee leslie
morgan nicola pat quinn riley robin rowan sam sandy taylor val
"""

# Everyday words with a surname's ending, common in the names of shops and channels: never surnames.
NOT_SURNAMES = """
магазин бензин витамин камин жасмин мандарин апельсин карантин логин админ плагин цветов товаров подарков
часов admin login plugin bitcoin berlin dublin austin
"""
