"""The texts of the banner and the preferences page, per language.

The language is the site's fixed ``language`` when set, else the best match of the visitor's
``Accept-Language`` among the built-in languages and those the site adds through ``texts``.
Every text can be overridden per language; English fills any gap.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from .policy import DEFAULT_CATEGORIES
from .views import CategoryView

DEFAULT_LANGUAGE = "en"

# Bounds on what a visitor's header can make us parse.
_MAX_HEADER = 512
_MAX_RANGES = 24
_RANGE = re.compile(r"^([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*$|^\*$")
_QUALITY = re.compile(r"^q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your privacy choices",
        "intro": (
            "We use cookies and similar technologies. Necessary ones keep the site working; "
            "the others are only used if you agree. You can change your mind at any time."
        ),
        "banner_text": (
            "Necessary cookies keep this site working. With your consent we also use cookies "
            "for: {purposes}. You can change your mind at any time."
        ),
        "details": "Details",
        "close": "Close",
        "accept_all": "Accept all",
        "reject_all": "Reject all",
        "customise": "Customise",
        "save": "Save choices",
        "always_on": "Always on",
        "privacy_policy": "Privacy policy",
        "settings": "Cookie settings",
        "preferences_title": "Cookie settings",
        "current_state": "Your current choice",
        "no_choice": "You have not made a choice yet.",
        "categories": "Categories",
        "services": "Services",
        "granted": "allowed",
        "refused": "refused",
        "allow_service": "Allow {name}",
        "blocked_service": "{name} is blocked until you allow {category} content.",
        "gpc_honoured": "Your browser's Global Privacy Control signal is honoured.",
        "dnt_honoured": "Your browser's Do Not Track signal is honoured.",
        "back": "Back to the site",
        "receipt": "Your consent receipt",
        "receipt_intro": (
            "This site keeps a record of every choice made in this browser, as proof of what "
            "you agreed to. These are the records of your consent id"
        ),
        "receipt_granted": "Allowed",
        "receipt_refused": "Refused",
        "receipt_services": "Services allowed one by one",
        "receipt_revision": "Policy version",
        "receipt_user_agent": "Browser",
        "receipt_network": "Network (address shortened)",
        "receipt_record": "Record",
        "receipt_texts": "Fingerprint of the texts shown",
        "receipt_none": "No choice made in this browser is on record.",
        "receipt_json": "Download these records (JSON)",
    },
    "de": {
        "title": "Ihre Datenschutz-Einstellungen",
        "intro": (
            "Wir verwenden Cookies und ähnliche Technologien. Notwendige halten die Website am "
            "Laufen; alle anderen setzen wir nur mit Ihrer Zustimmung ein. Sie können Ihre "
            "Entscheidung jederzeit ändern."
        ),
        "banner_text": (
            "Notwendige Cookies halten die Website am Laufen. Mit Ihrer Zustimmung nutzen wir "
            "Cookies auch für: {purposes}. Sie können Ihre Entscheidung jederzeit ändern."
        ),
        "details": "Details",
        "close": "Schließen",
        "accept_all": "Alle akzeptieren",
        "reject_all": "Alle ablehnen",
        "customise": "Anpassen",
        "save": "Auswahl speichern",
        "always_on": "Immer aktiv",
        "privacy_policy": "Datenschutzerklärung",
        "settings": "Cookie-Einstellungen",
        "preferences_title": "Cookie-Einstellungen",
        "current_state": "Ihre aktuelle Auswahl",
        "no_choice": "Sie haben noch keine Auswahl getroffen.",
        "categories": "Kategorien",
        "services": "Dienste",
        "granted": "erlaubt",
        "refused": "abgelehnt",
        "allow_service": "{name} erlauben",
        "blocked_service": "{name} ist blockiert, bis Sie Inhalte der Kategorie „{category}“ "
        "erlauben.",
        "gpc_honoured": "Das Global-Privacy-Control-Signal Ihres Browsers wird berücksichtigt.",
        "dnt_honoured": "Das „Do Not Track“-Signal Ihres Browsers wird berücksichtigt.",
        "back": "Zurück zur Website",
        "receipt": "Ihr Einwilligungsnachweis",
        "receipt_intro": (
            "Diese Website speichert jede in diesem Browser getroffene Auswahl als Nachweis "
            "dessen, wozu Sie zugestimmt haben. Dies sind die Einträge zu Ihrer "
            "Einwilligungs-ID"
        ),
        "receipt_granted": "Erlaubt",
        "receipt_refused": "Abgelehnt",
        "receipt_services": "Einzeln erlaubte Dienste",
        "receipt_revision": "Version der Richtlinie",
        "receipt_user_agent": "Browser",
        "receipt_network": "Netzwerk (Adresse gekürzt)",
        "receipt_record": "Eintrag",
        "receipt_texts": "Fingerabdruck der angezeigten Texte",
        "receipt_none": "Zu diesem Browser ist keine Auswahl gespeichert.",
        "receipt_json": "Diese Einträge herunterladen (JSON)",
        "category.necessary.title": "Unbedingt erforderlich",
        "category.necessary.description": (
            "Für den Betrieb der Website nötig: Sicherheit, Ihre Sitzung und das Speichern "
            "dieser Auswahl. Diese können nicht abgeschaltet werden."
        ),
        "category.analytical.title": "Statistik",
        "category.analytical.description": (
            "Helfen uns zu verstehen, wie Besucher die Website nutzen, indem Informationen "
            "anonym erhoben und ausgewertet werden."
        ),
        "category.preference.title": "Präferenzen",
        "category.preference.description": (
            "Merken sich Ihre Einstellungen, etwa Sprache oder Design, für eine persönlichere "
            "Website."
        ),
        "category.marketing.title": "Marketing",
        "category.marketing.description": (
            "Werden von Werbepartnern genutzt, um Ihnen relevante Werbung zu zeigen und deren "
            "Wirkung zu messen, möglicherweise auch auf anderen Websites."
        ),
    },
    "fr": {
        "title": "Vos choix de confidentialité",
        "intro": (
            "Nous utilisons des cookies et des technologies similaires. Les cookies nécessaires "
            "font fonctionner le site ; les autres ne sont utilisés qu'avec votre accord. Vous "
            "pouvez changer d'avis à tout moment."
        ),
        "banner_text": (
            "Les cookies nécessaires font fonctionner le site. Avec votre accord, nous "
            "utilisons aussi des cookies pour : {purposes}. Vous pouvez changer d'avis à tout "
            "moment."
        ),
        "details": "Détails",
        "close": "Fermer",
        "accept_all": "Tout accepter",
        "reject_all": "Tout refuser",
        "customise": "Personnaliser",
        "save": "Enregistrer mes choix",
        "always_on": "Toujours actifs",
        "privacy_policy": "Politique de confidentialité",
        "settings": "Paramètres des cookies",
        "preferences_title": "Paramètres des cookies",
        "current_state": "Votre choix actuel",
        "no_choice": "Vous n'avez pas encore fait de choix.",
        "categories": "Catégories",
        "services": "Services",
        "granted": "autorisé",
        "refused": "refusé",
        "allow_service": "Autoriser {name}",
        "blocked_service": "{name} est bloqué tant que vous n'autorisez pas les contenus "
        "« {category} ».",
        "gpc_honoured": "Le signal Global Privacy Control de votre navigateur est respecté.",
        "dnt_honoured": "Le signal « Do Not Track » de votre navigateur est respecté.",
        "back": "Retour au site",
        "receipt": "Votre reçu de consentement",
        "receipt_intro": (
            "Ce site conserve une trace de chaque choix fait dans ce navigateur, comme preuve"
            " de ce que vous avez accepté. Voici les enregistrements de votre identifiant de "
            "consentement"
        ),
        "receipt_granted": "Autorisé",
        "receipt_refused": "Refusé",
        "receipt_services": "Services autorisés un par un",
        "receipt_revision": "Version de la politique",
        "receipt_user_agent": "Navigateur",
        "receipt_network": "Réseau (adresse tronquée)",
        "receipt_record": "Enregistrement",
        "receipt_texts": "Empreinte des textes affichés",
        "receipt_none": "Aucun choix fait dans ce navigateur n'est enregistré.",
        "receipt_json": "Télécharger ces enregistrements (JSON)",
        "category.necessary.title": "Strictement nécessaires",
        "category.necessary.description": (
            "Indispensables au fonctionnement du site : sécurité, votre session et la "
            "mémorisation de ce choix. Ils ne peuvent pas être désactivés."
        ),
        "category.analytical.title": "Mesure d'audience",
        "category.analytical.description": (
            "Nous aident à comprendre comment les visiteurs utilisent le site en collectant et "
            "en rapportant des informations de manière anonyme."
        ),
        "category.preference.title": "Préférences",
        "category.preference.description": (
            "Mémorisent vos choix, comme la langue ou le thème, pour un site plus personnalisé."
        ),
        "category.marketing.title": "Marketing",
        "category.marketing.description": (
            "Utilisés par des partenaires publicitaires pour vous montrer des publicités "
            "pertinentes et mesurer leur efficacité, éventuellement sur d'autres sites."
        ),
    },
    "es": {
        "title": "Tus opciones de privacidad",
        "intro": (
            "Usamos cookies y tecnologías similares. Las necesarias hacen que el sitio funcione; "
            "las demás solo se usan si aceptas. Puedes cambiar de opinión en cualquier momento."
        ),
        "banner_text": (
            "Las cookies necesarias hacen que el sitio funcione. Con tu consentimiento también "
            "usamos cookies para: {purposes}. Puedes cambiar de opinión en cualquier momento."
        ),
        "details": "Detalles",
        "close": "Cerrar",
        "accept_all": "Aceptar todo",
        "reject_all": "Rechazar todo",
        "customise": "Personalizar",
        "save": "Guardar selección",
        "always_on": "Siempre activas",
        "privacy_policy": "Política de privacidad",
        "settings": "Configuración de cookies",
        "preferences_title": "Configuración de cookies",
        "current_state": "Tu elección actual",
        "no_choice": "Todavía no has elegido.",
        "categories": "Categorías",
        "services": "Servicios",
        "granted": "permitido",
        "refused": "rechazado",
        "allow_service": "Permitir {name}",
        "blocked_service": "{name} está bloqueado hasta que permitas el contenido de «{category}».",
        "gpc_honoured": "Se respeta la señal Global Privacy Control de tu navegador.",
        "dnt_honoured": "Se respeta la señal «Do Not Track» de tu navegador.",
        "back": "Volver al sitio",
        "receipt": "Tu comprobante de consentimiento",
        "receipt_intro": (
            "Este sitio guarda un registro de cada elección hecha en este navegador, como "
            "prueba de lo que aceptaste. Estos son los registros de tu identificador de "
            "consentimiento"
        ),
        "receipt_granted": "Permitido",
        "receipt_refused": "Rechazado",
        "receipt_services": "Servicios permitidos uno a uno",
        "receipt_revision": "Versión de la política",
        "receipt_user_agent": "Navegador",
        "receipt_network": "Red (dirección abreviada)",
        "receipt_record": "Registro",
        "receipt_texts": "Huella de los textos mostrados",
        "receipt_none": "No hay ninguna elección de este navegador registrada.",
        "receipt_json": "Descargar estos registros (JSON)",
        "category.necessary.title": "Estrictamente necesarias",
        "category.necessary.description": (
            "Imprescindibles para que el sitio funcione: seguridad, tu sesión y recordar esta "
            "elección. No se pueden desactivar."
        ),
        "category.analytical.title": "Analíticas",
        "category.analytical.description": (
            "Nos ayudan a entender cómo se usa el sitio recopilando y comunicando información "
            "de forma anónima."
        ),
        "category.preference.title": "Preferencias",
        "category.preference.description": (
            "Recuerdan tus elecciones, como el idioma o el tema, para ofrecerte un sitio más "
            "personal."
        ),
        "category.marketing.title": "Marketing",
        "category.marketing.description": (
            "Las usan socios publicitarios para mostrarte anuncios relevantes y medir su "
            "eficacia, posiblemente también en otros sitios."
        ),
    },
    "ru": {
        "title": "Настройки конфиденциальности",
        "intro": (
            "Мы используем файлы cookie и похожие технологии. Необходимые обеспечивают работу "
            "сайта; остальные применяются только с вашего согласия. Вы можете изменить решение "  # noqa: RUF001
            "в любой момент."
        ),
        "banner_text": (
            "Необходимые cookie обеспечивают работу сайта. С вашего согласия мы также "  # noqa: RUF001
            "используем cookie для целей: {purposes}. Решение можно изменить в любой момент."
        ),
        "details": "Подробнее",
        "close": "Закрыть",
        "accept_all": "Принять все",
        "reject_all": "Отклонить все",
        "customise": "Настроить",
        "save": "Сохранить выбор",
        "always_on": "Всегда включены",
        "privacy_policy": "Политика конфиденциальности",
        "settings": "Настройки cookie",
        "preferences_title": "Настройки cookie",
        "current_state": "Ваш текущий выбор",
        "no_choice": "Вы ещё не сделали выбор.",
        "categories": "Категории",
        "services": "Сервисы",
        "granted": "разрешено",
        "refused": "отклонено",
        "allow_service": "Разрешить {name}",
        "blocked_service": "{name} заблокирован, пока вы не разрешите категорию «{category}».",
        "gpc_honoured": "Сигнал Global Privacy Control вашего браузера учитывается.",
        "dnt_honoured": "Сигнал «Do Not Track» вашего браузера учитывается.",
        "back": "Вернуться на сайт",
        "receipt": "Подтверждение вашего согласия",
        "receipt_intro": (
            "Сайт хранит запись о каждом выборе, сделанном в этом браузере, как подтверждение"  # noqa: RUF001
            " того, на что вы согласились. Вот записи для вашего идентификатора согласия"
        ),
        "receipt_granted": "Разрешено",
        "receipt_refused": "Отклонено",
        "receipt_services": "Отдельно разрешённые сервисы",
        "receipt_revision": "Версия политики",
        "receipt_user_agent": "Браузер",
        "receipt_network": "Сеть (адрес сокращён)",
        "receipt_record": "Запись",
        "receipt_texts": "Отпечаток показанных текстов",
        "receipt_none": "Для этого браузера нет сохранённого выбора.",
        "receipt_json": "Скачать эти записи (JSON)",
        "category.necessary.title": "Строго необходимые",
        "category.necessary.description": (
            "Нужны для работы сайта: безопасность, ваша сессия и запоминание этого выбора. "
            "Их нельзя отключить."
        ),
        "category.analytical.title": "Аналитика",
        "category.analytical.description": (
            "Помогают нам понять, как посетители пользуются сайтом, анонимно собирая и "
            "передавая сведения."
        ),
        "category.preference.title": "Предпочтения",
        "category.preference.description": (
            "Запоминают ваши настройки, например язык или тему оформления, чтобы сайт был удобнее."
        ),
        "category.marketing.title": "Маркетинг",
        "category.marketing.description": (
            "Используются рекламными партнёрами, чтобы показывать вам подходящую рекламу и "
            "измерять её эффективность, возможно, и на других сайтах."
        ),
    },
}

#: The cookie declaration's texts (consentgate/declaration.py): its headings, our purpose of each
#: kind of cookie, and lifetimes, whose plural forms are separated by "|" (one|other; Russian:
#: one|few|many). They join TEXTS below, so a site overrides them like any other text.
DECLARATION_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "cookies_title": "Cookies on this site",
        "cookies_intro": (
            "The cookies this site and the services it uses may set, by purpose. Except the "
            "strictly necessary ones, none is set without your consent."
        ),
        "col_name": "Cookie",
        "col_provider": "Provider",
        "col_purpose": "Purpose",
        "col_lifetime": "Lifetime",
        "col_party": "Type",
        "party_first": "First party",
        "party_third": "Third party",
        "this_site": "This site",
        "no_cookies": "No cookies in this category.",
        "consent_only": "Only with your consent",
        "pattern_note": "A name ending in * stands for every cookie whose name starts that way.",
        "purpose.necessary": "Needed for the site to work",
        "purpose.analytical": "Measures how visitors use the site (statistics)",
        "purpose.preference": "Remembers your settings and choices",
        "purpose.marketing": (
            "Advertising: shows ads and measures how well they work, possibly across other sites"
        ),
        "purpose.consent": "Remembers your cookie choices",
        "purpose.visitor_id": "Tells visitors apart, to count them",
        "purpose.session": "Groups the pages seen in one visit",
        "purpose.throttle": "Limits how often data is sent",
        "purpose.campaign": "Remembers which ad or campaign brought you here",
        "lifetime.session": "Session",
        "lifetime.persistent": "No expiry",
        "lifetime.unknown": "Not stated",
        "lifetime.minute": "{n} minute|{n} minutes",
        "lifetime.hour": "{n} hour|{n} hours",
        "lifetime.day": "{n} day|{n} days",
        "lifetime.week": "{n} week|{n} weeks",
        "lifetime.month": "{n} month|{n} months",
        "lifetime.year": "{n} year|{n} years",
    },
    "de": {
        "cookies_title": "Cookies auf dieser Website",
        "cookies_intro": (
            "Die Cookies, die diese Website und die von ihr genutzten Dienste setzen können, nach "
            "Zweck geordnet. Außer den unbedingt notwendigen wird keines ohne Ihre Zustimmung "
            "gesetzt."
        ),
        "col_name": "Cookie",
        "col_provider": "Anbieter",
        "col_purpose": "Zweck",
        "col_lifetime": "Speicherdauer",
        "col_party": "Art",
        "party_first": "Erstanbieter",
        "party_third": "Drittanbieter",
        "this_site": "Diese Website",
        "no_cookies": "Keine Cookies in dieser Kategorie.",
        "consent_only": "Nur mit Ihrer Zustimmung",
        "pattern_note": "Ein Name, der auf * endet, steht für alle Cookies, deren Name so beginnt.",
        "purpose.necessary": "Für den Betrieb der Website erforderlich",
        "purpose.analytical": "Misst, wie Besucher die Website nutzen (Statistik)",
        "purpose.preference": "Speichert Ihre Einstellungen und Ihre Auswahl",
        "purpose.marketing": (
            "Werbung: spielt Anzeigen aus und misst ihre Wirkung, auch über andere Websites hinweg"
        ),
        "purpose.consent": "Speichert Ihre Cookie-Auswahl",
        "purpose.visitor_id": "Unterscheidet Besucher, um sie zu zählen",
        "purpose.session": "Fasst die Seitenaufrufe eines Besuchs zusammen",
        "purpose.throttle": "Begrenzt, wie oft Daten gesendet werden",
        "purpose.campaign": "Merkt sich, über welche Anzeige oder Kampagne Sie kamen",
        "lifetime.session": "Sitzung",
        "lifetime.persistent": "Unbegrenzt",
        "lifetime.unknown": "Nicht angegeben",
        "lifetime.minute": "{n} Minute|{n} Minuten",
        "lifetime.hour": "{n} Stunde|{n} Stunden",
        "lifetime.day": "{n} Tag|{n} Tage",
        "lifetime.week": "{n} Woche|{n} Wochen",
        "lifetime.month": "{n} Monat|{n} Monate",
        "lifetime.year": "{n} Jahr|{n} Jahre",
    },
    "fr": {
        "cookies_title": "Cookies de ce site",
        "cookies_intro": (
            "Les cookies que ce site et les services qu'il utilise peuvent déposer, par "
            "finalité. Hormis les cookies strictement nécessaires, aucun n'est déposé sans votre "
            "accord."
        ),
        "col_name": "Cookie",
        "col_provider": "Fournisseur",
        "col_purpose": "Finalité",
        "col_lifetime": "Durée de conservation",
        "col_party": "Type",
        "party_first": "Interne",
        "party_third": "Tiers",
        "this_site": "Ce site",
        "no_cookies": "Aucun cookie dans cette catégorie.",
        "consent_only": "Uniquement avec votre accord",
        "pattern_note": (
            "Un nom finissant par * désigne tous les cookies dont le nom commence ainsi."
        ),
        "purpose.necessary": "Nécessaire au fonctionnement du site",
        "purpose.analytical": "Mesure l'utilisation du site par les visiteurs (statistiques)",
        "purpose.preference": "Mémorise vos réglages et vos choix",
        "purpose.marketing": (
            "Publicité : diffuse des annonces et mesure leur efficacité, y compris sur d'autres "
            "sites"
        ),
        "purpose.consent": "Mémorise vos choix en matière de cookies",
        "purpose.visitor_id": "Distingue les visiteurs pour les compter",
        "purpose.session": "Regroupe les pages vues lors d'une même visite",
        "purpose.throttle": "Limite la fréquence d'envoi des données",
        "purpose.campaign": "Mémorise l'annonce ou la campagne qui vous a amené ici",
        "lifetime.session": "Session",
        "lifetime.persistent": "Illimitée",
        "lifetime.unknown": "Non précisée",
        "lifetime.minute": "{n} minute|{n} minutes",
        "lifetime.hour": "{n} heure|{n} heures",
        "lifetime.day": "{n} jour|{n} jours",
        "lifetime.week": "{n} semaine|{n} semaines",
        "lifetime.month": "{n} mois|{n} mois",
        "lifetime.year": "{n} an|{n} ans",
    },
    "es": {
        "cookies_title": "Cookies de este sitio",
        "cookies_intro": (
            "Las cookies que este sitio y los servicios que usa pueden instalar, según su "
            "finalidad. Salvo las estrictamente necesarias, ninguna se instala sin tu "
            "consentimiento."
        ),
        "col_name": "Cookie",
        "col_provider": "Proveedor",
        "col_purpose": "Finalidad",
        "col_lifetime": "Duración",
        "col_party": "Tipo",
        "party_first": "Propia",
        "party_third": "De terceros",
        "this_site": "Este sitio",
        "no_cookies": "No hay cookies en esta categoría.",
        "consent_only": "Solo con tu consentimiento",
        "pattern_note": (
            "Un nombre que termina en * representa todas las cookies cuyo nombre empieza así."
        ),
        "purpose.necessary": "Necesaria para que el sitio funcione",
        "purpose.analytical": "Mide cómo usan el sitio los visitantes (estadísticas)",
        "purpose.preference": "Recuerda tus ajustes y elecciones",
        "purpose.marketing": (
            "Publicidad: muestra anuncios y mide su eficacia, también en otros sitios"
        ),
        "purpose.consent": "Recuerda tu elección sobre las cookies",
        "purpose.visitor_id": "Distingue a los visitantes para contarlos",
        "purpose.session": "Agrupa las páginas vistas en una visita",
        "purpose.throttle": "Limita la frecuencia con que se envían datos",
        "purpose.campaign": "Recuerda qué anuncio o campaña te trajo aquí",
        "lifetime.session": "Sesión",
        "lifetime.persistent": "Sin caducidad",
        "lifetime.unknown": "No indicada",
        "lifetime.minute": "{n} minuto|{n} minutos",
        "lifetime.hour": "{n} hora|{n} horas",
        "lifetime.day": "{n} día|{n} días",
        "lifetime.week": "{n} semana|{n} semanas",
        "lifetime.month": "{n} mes|{n} meses",
        "lifetime.year": "{n} año|{n} años",
    },
    "ru": {
        "cookies_title": "Файлы cookie на этом сайте",
        "cookies_intro": (
            "Файлы cookie, которые могут устанавливать этот сайт и используемые им сервисы, по "
            "целям. Кроме строго необходимых, ни один не устанавливается без вашего согласия."
        ),
        "col_name": "Cookie",
        "col_provider": "Поставщик",
        "col_purpose": "Цель",
        "col_lifetime": "Срок хранения",
        "col_party": "Тип",
        "party_first": "Собственный",
        "party_third": "Сторонний",
        "this_site": "Этот сайт",
        "no_cookies": "В этой категории нет файлов cookie.",  # noqa: RUF001
        "consent_only": "Только с вашего согласия",  # noqa: RUF001
        "pattern_note": (
            "Имя, оканчивающееся на *, обозначает все cookie, имя которых так начинается."
        ),
        "purpose.necessary": "Нужен для работы сайта",
        "purpose.analytical": "Измеряет, как посетители пользуются сайтом (статистика)",
        "purpose.preference": "Запоминает ваши настройки и выбор",
        "purpose.marketing": (
            "Реклама: показ объявлений и оценка их эффективности, в том числе на других сайтах"
        ),
        "purpose.consent": "Запоминает ваш выбор в отношении cookie",
        "purpose.visitor_id": "Различает посетителей, чтобы их считать",
        "purpose.session": "Объединяет просмотры страниц за одно посещение",
        "purpose.throttle": "Ограничивает частоту отправки данных",
        "purpose.campaign": "Запоминает, какое объявление или кампания привели вас сюда",
        "lifetime.session": "Сеанс",
        "lifetime.persistent": "Бессрочно",
        "lifetime.unknown": "Не указан",  # noqa: RUF001
        "lifetime.minute": "{n} минута|{n} минуты|{n} минут",
        "lifetime.hour": "{n} час|{n} часа|{n} часов",
        "lifetime.day": "{n} день|{n} дня|{n} дней",
        "lifetime.week": "{n} неделя|{n} недели|{n} недель",
        "lifetime.month": "{n} месяц|{n} месяца|{n} месяцев",
        "lifetime.year": "{n} год|{n} года|{n} лет",
    },
}
for _lang, _texts in DECLARATION_TEXTS.items():
    TEXTS[_lang].update(_texts)


def _ranges(header: str) -> list[tuple[float, int, str]]:
    """``Accept-Language`` as (quality, position, lowercase range), best first."""
    found = []
    for position, item in enumerate(header[:_MAX_HEADER].split(",")[:_MAX_RANGES]):
        tag, *params = (part.strip() for part in item.split(";"))
        if not _RANGE.match(tag):
            continue
        quality = 1.0
        for param in params:
            match = _QUALITY.match(param.replace(" ", ""))
            if match:
                quality = float(match.group(1))
        if quality > 0:
            found.append((-quality, position, tag.lower()))
    found.sort()
    return [(-q, p, t) for q, p, t in found]


def negotiate(accept_language: str | None, available: Sequence[str]) -> str:
    """The best of ``available`` for the visitor; English when nothing matches."""
    choices = {lang.lower(): lang for lang in available}
    for _, _, tag in _ranges(accept_language or ""):
        if tag == "*":
            break
        # "de-AT" takes "de-at" when offered, then "de".
        parts = tag.split("-")
        for n in range(len(parts), 0, -1):
            candidate = "-".join(parts[:n])
            if candidate in choices:
                return choices[candidate]
    return DEFAULT_LANGUAGE


def texts_for(
    accept_language: str | None,
    *,
    language: str | None = None,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[str, dict[str, str]]:
    """The language to use and its texts, English filling any gap.

    ``overrides`` maps a language to texts replacing the built-in ones; a language present only
    there is offered to visitors too, so a site can add one.
    """
    overrides = overrides or {}
    lang = language or negotiate(accept_language, [*TEXTS, *overrides])
    texts = dict(TEXTS[DEFAULT_LANGUAGE])
    texts.update(TEXTS.get(lang, {}))
    texts.update(overrides.get(lang, {}))
    return lang, texts


# Languages written right to left: their banner is laid out mirrored (dir="rtl").
_RTL = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "ks", "ps", "sd", "ug", "ur", "yi"})


def direction(lang: str) -> str:
    """``rtl`` for a language written right to left (by its primary subtag), else ``ltr``."""
    return "rtl" if lang.split("-", 1)[0].lower() in _RTL else "ltr"


_DEFAULTS = {c.name: c for c in DEFAULT_CATEGORIES}


def localise_categories(
    views: Sequence[CategoryView],
    texts: Mapping[str, str],
    site_texts: Mapping[str, str] | None = None,
) -> list[CategoryView]:
    """Translate the titles and descriptions of the built-in categories.

    A category the site worded itself keeps its own words, unless the site also translated them
    with ``category.<name>.title`` / ``category.<name>.description`` in ``site_texts`` (the
    ``texts`` option for this language), which always win.
    """
    site_texts = site_texts or {}
    localised = []
    for view in views:
        default = _DEFAULTS.get(view.name)
        changes = {}
        for field in ("title", "description"):
            key = f"category.{view.name}.{field}"
            ours = default is not None and getattr(view, field) == getattr(default, field)
            if key in site_texts or (key in texts and ours):
                changes[field] = texts[key]
        localised.append(
            dataclasses.replace(
                view,
                title=changes.get("title", view.title),
                description=changes.get("description", view.description),
            )
        )
    return localised
