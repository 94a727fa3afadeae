"""Word lists and patterns of everyday chat about movies (no catalogue needed).

Kept apart from the parser so that each rule is visible and testable on its own: greetings and
small talk (which must never reach keyword or semantic search), quality wishes ("good",
"great", "best": a wish for well-loved movies, not keywords), audiences, moods and the
follow-up phrases that refine the last answer.
"""

from __future__ import annotations

import re

# -- small talk --------------------------------------------------------------------------------
#: Greetings, pleasantries and chat filler, removed before anything else is read. Ordered
#: longest first inside the alternation so "how are you doing today" goes whole.
SMALLTALK_RE = re.compile(
    r"\b(?:"
    r"h+i+(?:\s+there)?|hey+(?:\s+there)?|hello+(?:\s+there)?|hiya|howdy|yo|greetings|hy|"
    r"good\s+(?:morning|afternoon|evening|night|day)|"
    r"how\s+(?:are|r)\s+(?:you|u|ya)(?:\s+(?:doing|today|tonight|this\s+\w+))*|"
    r"how(?:'s|\s+is)\s+(?:it\s+going|your\s+day|everything)|how\s+about\s+you|"
    r"what'?s\s+up|sup|and\s+(?:you|u|yourself)|you\??|yourself|"
    r"(?:i'?m|i\s+am|im|am|doing|all)\s+(?:(?:very|really|so|pretty|just|doing|quite)\s+)*"
    r"(?:good|great|fine|well|ok(?:ay)?|alright|awesome|wonderful|excellent|fantastic|"
    r"not\s+bad|swell|tired|busy|bored)(?:\s+(?:today|thanks?|thank\s+you))*|"
    r"(?:i'?m|i\s+am)\s+(?:the\s+)?seeker(?:\s+now)?|"
    r"(?:thanks?|thank\s+you|thx|ty)(?:\s+(?:so|very)\s+much|\s+a\s+lot)?(?:\s+for\s+\w+)?|"
    r"nice\s+to\s+(?:meet|talk\s+to)\s+you|good\s+to\s+(?:hear|know)|glad\s+to\s+hear(?:\s+it)?|"
    r"bye|goodbye|see\s+(?:you|ya)|have\s+a\s+(?:good|great|nice)\s+\w+|"
    r"lol|haha+|hehe+|ok(?:ay)?|sure|cool|yes|yeah|yep|no|nope|nah|hmm+|um+|well|so|"
    r"sorry|please|pls|plz|my\s+friend|friend|buddy|pal|there|too|also|again|today|tonight"
    r")\b[\s,.!?;:)(-]*",
    re.I,
)

#: A wish for a recommendation with nothing else said ("recommend something", "any movie").
WISH_RE = re.compile(
    r"\b(?:recomm?end|recomend|reccomm?end|suggest|suggestions?|recommendations?|reccomedations?|"
    r"ideas?|what\s+(?:should|can|could)\s+i\s+(?:watch|see)|something\s+to\s+watch|"
    r"looking\s+for\s+(?:a|some|an)?\s*(?:movies?|films?|something)|any\s+(?:movies?|films?)|"
    r"open\s+to\s+(?:any|anything)|anything|whatever|any\s+genre|movie\s+night|"
    r"in\s+the\s+mood|want\s+to\s+(?:watch|see)|need\s+(?:a|some)\s+(?:movies?|films?)|"
    r"got\s+any|know\s+any|favou?rite)\b",
    re.I,
)

#: Quality words: a wish for well-loved movies, never search keywords.
QUALITY_RE = re.compile(
    r"\b(?:good|great|best|awesome|excellent|amazing|top|top[\s-]rated|highly[\s-]rated|"
    r"well[\s-]made|quality|fantastic|brilliant|solid|decent|must[\s-]see|acclaimed|"
    r"classic\s+good|really\s+good|nice|cool|fun\s+good)\b",
    re.I,
)

#: Words that carry no request by themselves (removed from the free text after parsing).
STOP_WORDS = frozenset(
    """a an the and or but if then so to of in on at by for with from about as into than too very
    i i'm im i've ive i'd id me my mine myself we our us you your yours u he she it its they them
    their this that these those there here is are was were be been being am do does did done
    have has had having will would can could should shall may might must just really quite
    pretty kind kinda sort sorta like likes liked love loves loved enjoy enjoyed enjoying
    want wants wanted looking look find finding need needs watch watched watching see seen saw
    movie movies film films flick flicks something anything stuff thing things one ones some any
    more most much many lot lots also maybe perhaps actually probably definitely sure
    recommend recommendation recommendations suggest suggestion suggestions please help know
    think tell give show get got go going make made what which who whom whose when where why how
    all every each other others another same such only own not no nor yes yeah ok okay well
    good great best awesome excellent amazing nice cool fun top favorite favourite fav
    mood feel feeling type types genre genres kinds style watching tonight today weekend night
    year years new recent old older newer similar else again now ever never always
    hi hello hey thanks thank thx lol haha um hmm oh ah wow sorry doing fine
    option options open opne everything everybody anymore both nothing starring thinking
    seeing interested honest honestly sounds sound familiar hope lets let's name names talking
    asking wait especially sorts sort kinds usually generally lately recently remember heard
    hear told said say idea ideas help helping yourself myself wanna gonna gotta can't cant
    don't dont didn't didnt i'll ill we'll we're were they're it's its that's thats what's
    whats there's theres here's lately currently already still even though because since
    while until unless whether either neither anyway anyways awesome fantastic wonderful
    perfect glad happy thanks amen tho though yet ones bit little big lots plenty couple
    anymore someone somebody anyone anybody person people guy guys girl girls man woman
    friend friends son daughter wife husband boyfriend girlfriend brother sister mom dad
    question answer chat talk talking seeker recommender computer messing sorry mistake
    typo oops""".split()  # noqa: SIM905
)

# -- audience ----------------------------------------------------------------------------------
#: Audience -> (preferred genres, avoided genres). Kids/family/tweens avoid what scares or
#: shocks; a date night leans romantic comedy.
AUDIENCES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "kids": (("Children", "Animation"), ("Horror", "Thriller", "Crime", "War", "Film-Noir")),
    "family": (("Children", "Animation", "Comedy"), ("Horror", "Thriller", "Crime", "War")),
    "tweens": (("Children", "Adventure", "Comedy"), ("Horror", "Film-Noir", "War")),
    "date night": (("Romance", "Comedy"), ("Horror", "War", "Documentary")),
    "friends": (("Comedy", "Action"), ()),
}
AUDIENCE_RE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:tweens?|pre[\s-]?teens?|teenagers?|teens?)\b", re.I), "tweens"),
    (
        re.compile(
            r"\b(?:for\s+(?:my\s+|the\s+|a\s+)?(?:kids?|children|child|son|daughter|"
            r"toddlers?|little\s+ones?|niece|nephew|grand\s*kids|\d{1,2}[\s-]year[\s-]olds?)|"
            r"child(?:ren)?'?s?\s+(?:movies?|films?)|"
            r"kids?\s+(?:movies?|films?|slumber\s+party|party)|children'?s\s+(?:movies?|films?)|"
            r"kid[\s-]friendly|slumber\s+party)\b",
            re.I,
        ),
        "kids",
    ),
    (
        re.compile(
            r"\b(?:family(?:[\s-]friendly)?(?:\s+(?:movies?|films?|night|time))?|"
            r"whole\s+family|with\s+(?:my\s+)?(?:family|parents))\b",
            re.I,
        ),
        "family",
    ),
    (
        re.compile(
            r"\b(?:date[\s-]night|a\s+date|with\s+my\s+(?:girlfriend|boyfriend|wife|husband|"
            r"partner|date)|romantic\s+evening)\b",
            re.I,
        ),
        "date night",
    ),
    (re.compile(r"\b(?:with\s+(?:my\s+|some\s+)?friends|movie\s+night)\b", re.I), "friends"),
]

#: "something lighter" and friends: prefer these genres, avoid those.
LIGHTER = (("Comedy", "Children", "Animation", "Romance"), ("Horror", "War", "Thriller", "Crime"))
LIGHTER_RE = re.compile(
    r"\b(?:lighter|light[\s-]?hearted|less\s+(?:dark|heavy|serious|intense|depressing|sad|"
    r"violent|scary|grim)|more\s+(?:fun|upbeat|cheerful)|happier|cheerful|upbeat|"
    r"feel[\s-]good|not\s+(?:so|too)\s+(?:dark|heavy|serious|sad|intense))\b",
    re.I,
)
DARKER_RE = re.compile(r"\b(?:darker|more\s+(?:serious|intense|dark|gritty)|grittier)\b", re.I)

# -- follow-ups --------------------------------------------------------------------------------
SEEN_RE = re.compile(
    r"\b(?:(?:i'?ve|i\s+have|ive|already|have)\s+(?:already\s+)?(?:seen|watched)|"
    r"seen\s+(?:it|that|this|them|those|all)|watched\s+(?:it|that|this|them|those)|"
    r"saw\s+(?:it|that|this|them)|"
    # "seen the first one", "watched #2": a shown movie by its place in the answer.
    r"(?:seen|watched|saw)\s+(?:the\s+)?(?:(?:first|second|third|fourth|fifth|sixth|seventh|"
    r"eighth|ninth|tenth|last)(?:\s+one)?|#\s*\d{1,2}|number\s+\d{1,2}))\b",
    re.I,
)
REJECT_RE = re.compile(
    r"\b(?:not\s+(?:that|this)(?:\s+one)?|not\s+(?:the\s+)?(?:(?:first|second|third|fourth|"
    r"fifth|sixth|seventh|eighth|ninth|tenth|last)(?:\s+one)?|#\s*\d{1,2}|number\s+\d{1,2})|not\s+(?:for|really)\s+(?:me|my\s+thing)|"
    r"(?:don'?t|do\s+not|didn'?t)\s+(?:like|want|love)\s+(?:that|it|this|those|them)|"
    r"something\s+else|anything\s+else|other\s+(?:ones|options|suggestions|picks)|"
    r"another\s+one|different\s+ones?|no\s+thanks|not\s+interested|skip\s+(?:it|that))\b",
    re.I,
)
MORE_RE = re.compile(
    r"^\s*(?:more|more\s+please|show\s+(?:me\s+)?more|next|others?)\s*[.!]*$", re.I
)

#: Questions about a movie shown before: field asked for.
QUESTION_FIELDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bwho\s+(?:directed|made|is\s+the\s+director)|\bdirector\b", re.I), "director"),
    (
        re.compile(
            r"\bwho(?:'s|\s+is|\s+was|\s+are)?\s+(?:in|starring|stars)|\bcast\b|\bactors?\b", re.I
        ),
        "cast",
    ),
    (re.compile(r"\b(?:what|which)\s+year|\bwhen\s+(?:was|did)|\breleased?\b", re.I), "year"),
    (re.compile(r"\bhow\s+long|\bruntime|\blength\b", re.I), "runtime"),
    (
        re.compile(
            r"\bwhat(?:'s|\s+is)\s+(?:it|that|this|the\s+\w+(?:\s+one)?|#\s*\d+)\s+about|"
            r"\bplot\b|\bstory\b|\babout\?",
            re.I,
        ),
        "plot",
    ),
    (re.compile(r"\bwhat\s+genre|\bwhat\s+kind\s+of\s+(?:movie|film)\s+is", re.I), "genre"),
    (re.compile(r"\b(?:rating|rated|any\s+good|is\s+it\s+good|worth)\b", re.I), "rating"),
]
QUESTION_START = re.compile(r"^\s*(?:who|what|when|how|which|is|was|does|did|tell\s+me)\b", re.I)

# -- identification ------------------------------------------------------------------------------
IDENTIFY_RE = re.compile(
    r"\[\s*tomt\s*\]|\btomt\b|\btip\s+of\s+(?:my|the)\s+tongue\b|"
    r"\bwhat(?:'s|\s+is|\s+was)\s+(?:the|that|this)\s+(?:movie|film)\s+(?:where|with|about|in\s+which|"
    r"called|that)\b|"
    r"\b(?:what|which)\s+(?:movie|film)\s+(?:is|was)\s+(?:it|this|that)\b|"
    r"\btrying\s+to\s+(?:remember|identify|figure\s+out)\s+(?:a|the|this|an|what|which|that)\b|"
    r"\b(?:can'?t|cannot|don'?t)\s+remember\s+(?:the\s+)?(?:name|title)\b|"
    r"\b(?:name|title)\s+of\s+(?:a|the|this|that)\s+(?:movie|film)\b|"
    r"\bhelp\s+(?:me\s+)?(?:identify|remember)\s+(?:a|the|this|an)\b|"
    r"\b(?:find|identify)\s+(?:a|the|this|an)\s+(?:movie|film)\s+(?:where|in\s+which|"
    r"that\s+(?:had|has|was))\b|"
    r"\bi\s+(?:saw|watched)\s+(?:a|this)\s+(?:movie|film)\s+(?:where|about|once|years|as\s+a)\b|"
    r"\bthere\s+(?:was|is)\s+(?:a|this)\s+(?:movie|film)\s+(?:where|about|in\s+which)\b",
    re.I,
)

#: Someone recalling a movie rather than asking for one.
MEMORY_RE = re.compile(
    r"\b(?:i\s+(?:vaguely\s+|only\s+|just\s+|faintly\s+)?(?:remember|recall)|"
    r"all\s+i\s+(?:can\s+)?(?:remember|recall)|(?:can'?t|cannot|don'?t)\s+(?:recall|remember)|"
    r"years\s+ago|as\s+a\s+(?:kid|child|teen)|when\s+i\s+was\s+(?:a\s+)?(?:kid|young|little|"
    r"child|teen)|i\s+think\s+(?:it|there|the)\s+(?:was|had|were)|saw\s+the\s+trailer|"
    r"(?:movie|film)\s+(?:where|in\s+which)\s+(?:a|an|the|some|two|three|this|people|he|she)|"
    r"the\s+(?:movie|film)\s+(?:starts|begins|ends)|(?:only|last)\s+scene|on\s+tv\s+(?:once|"
    r"years)|not\s+sure\s+(?:if|when|whether)|there(?:'s|\s+is|\s+was)\s+a\s+scene|"
    r"the\s+most\s+i\s+(?:can\s+)?remember|i\s+think\s+i\s+(?:may\s+)?(?:have\s+)?(?:saw|seen))\b",
    re.I,
)
#: An explicit wish for suggestions (wins over memory cues in a short message).
ASK_FOR_PICKS_RE = re.compile(
    r"\b(?:recomm?end|recomend|reccomm?end|suggest|suggestions?|recommendations?|any\s+ideas)\b",
    re.I,
)

#: Words of a request that is long enough to be a plot description rather than a wish.
NARRATIVE_WORDS = 60

#: "I don't care for animation", "not a fan of horror": rewritten to "no" before genre parsing,
#: so the search parser's negation rules exclude the genre.
DISLIKE_GENRE_RE = re.compile(
    r"\b(?:(?:i\s+)?(?:don'?t|do\s+not|doesn'?t|didn'?t)\s+(?:particularly\s+|really\s+|much\s+)?"
    r"(?:care\s+for|like|enjoy|love|want|dig)|(?:i\s+)?hate|(?:i\s+)?dislike|"
    r"(?:i'?m\s+|i\s+am\s+)?not\s+(?:a\s+)?(?:big\s+|huge\s+)?fan\s+of|can'?t\s+stand|"
    r"not\s+in\s+the\s+mood\s+for|(?:i'?m\s+|i\s+am\s+)?not\s+into)\s+(?=\w)",
    re.I,
)
