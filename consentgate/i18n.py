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
