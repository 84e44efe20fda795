# ruff: noqa: E501 - the model texts are prose, one paragraph per line
"""The default models a pilot starts from: the articles of each kind of convention (after the
AVDL guide and the USH "Repères n°23", see `../shared/seeds/`) and their usual indicators.

Texts use `{{ variables }}` filled from the convention's data (see `content.variables`): party
names, amounts and dates are never typed twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.conventions.enums import ConventionKind, IndicatorKind

VARIABLES: dict[str, str] = {
    "titre": "titre de la convention",
    "reference": "référence",
    "nom_projet": "désignation du projet",
    "territoire": "territoire",
    "bailleur_porteur": "bailleur porteur du projet",
    "bailleurs": "tous les bailleurs parties",
    "associations": "associations parties",
    "partenaires": "bailleurs et associations parties",
    "service_etat": "service de l'État signataire",
    "cofinanceurs": "cofinanceurs parties",
    "referents": "référents nommés de chaque organisation",
    "date_debut": "date de début",
    "date_fin": "date de fin",
    "duree_mois": "durée en mois",
    "nombre_menages": "nombre de ménages visé",
    "nombre_logements": "nombre de logements",
    "total_depenses": "total des dépenses",
    "total_depenses_eligibles": "total des dépenses éligibles au fonds",
    "total_ressources": "total des ressources",
    "montant_subvention": "subvention demandée au fonds (État)",
    "cout_diagnostic": "coût d'un diagnostic par ménage",
    "cout_accompagnement": "coût de l'accompagnement par ménage et par an",
    "cout_gla": "coût de la gestion locative adaptée par logement et par an",
}


@dataclass(frozen=True)
class Missing:
    """A variable without a value for this convention: the placeholder a draft shows in its
    place, the data to fill in (named by the freeze blocker) and the anchor of the field on the
    convention's page that fills it."""

    placeholder: str
    data: str
    field: str

    @property
    def text(self) -> str:
        return f"[{self.placeholder}]"


# The only source of placeholders (`content.variables` goes through `placeholder`): a frozen
# version may carry none, so each one here is a reason not to freeze.
MISSING: dict[str, Missing] = {
    "nom_projet": Missing("projet à nommer", "la désignation du projet", "f-project_name"),
    "territoire": Missing("territoire à préciser", "le territoire", "f-territory"),
    "bailleur_porteur": Missing(
        "bailleur porteur à désigner", "le bailleur porteur du projet parmi les parties", "parties"
    ),
    "bailleurs": Missing("bailleurs à désigner", "les bailleurs parties", "parties"),
    "associations": Missing("associations à désigner", "les associations parties", "parties"),
    "partenaires": Missing(
        "partenaires à désigner", "les bailleurs et associations parties", "parties"
    ),
    "service_etat": Missing(
        "service de l'État à désigner", "le service de l'État parmi les parties", "parties"
    ),
    "referents": Missing("référents à désigner", "le référent de chaque partie", "parties"),
    "date_debut": Missing("date à fixer", "la date de début", "f-starts_on"),
    "date_fin": Missing("date à fixer", "la date de début (la fin en découle)", "f-starts_on"),
    "nombre_menages": Missing("nombre à fixer", "le nombre de ménages visé", "f-households_target"),
    "nombre_logements": Missing("nombre à fixer", "le nombre de logements", "f-homes_target"),
    "cout_diagnostic": Missing(
        "montant à renseigner", "le coût d'un diagnostic par ménage", "f-unit_diagnostic_cents"
    ),
    "cout_accompagnement": Missing(
        "montant à renseigner",
        "le coût de l'accompagnement par ménage et par an",
        "f-unit_accompaniment_cents",
    ),
    "cout_gla": Missing(
        "montant à renseigner",
        "le coût de la gestion locative adaptée par logement et par an",
        "f-unit_gla_cents",
    ),
}


def placeholder(name: str) -> str:
    return MISSING[name].text


PARTNERSHIP: list[tuple[str, str, str]] = [
    (
        "objet",
        "Objet de la convention",
        """La présente convention organise le partenariat entre {{ bailleurs }}, d'une part, et {{ associations }}, d'autre part, pour le projet « {{ nom_projet }} » mené sur le territoire suivant : {{ territoire }}.

Elle fixe le rôle de chaque partie, les modalités de coordination et les conditions financières, dont le reversement par {{ bailleur_porteur }} de la part de subvention due à chaque association.""",
    ),
    (
        "contexte",
        "Contexte et objectifs",
        """Le projet vise à permettre l'accès et le maintien durable dans un logement social de ménages en grande difficulté, par un accompagnement social adapté et une gestion locative adaptée.

Objectifs partagés :

- favoriser l'accès au logement des ménages orientés ;
- prévenir les ruptures de parcours et les expulsions ;
- stabiliser les ménages dans leur logement et les relayer vers le droit commun.""",
    ),
    (
        "public",
        "Public visé et nombre de ménages",
        """Le projet concerne **{{ nombre_menages }} ménages** sur {{ duree_mois }} mois : ménages reconnus prioritaires au titre du DALO, sortants d'hébergement ou de structures, ménages en difficulté dans le parc des bailleurs.

Les orientations proviennent du SIAO, de la commission de coordination des situations complexes, des bailleurs pour leurs propres locataires et des associations.""",
    ),
    (
        "parcours",
        "Rôle de chaque partie à chaque étape du parcours",
        """- *Orientation* : le bailleur ou le SIAO propose la situation ; l'accord du ménage est recherché avant toute entrée dans le dispositif.
- *Diagnostic* : l'association réalise le diagnostic social ; seule la partie utile au projet de logement est transmise au bailleur.
- *Accompagnement* : l'association accompagne le ménage, avec une intensité et une durée adaptées, et le droit de s'interrompre puis de reprendre.
- *Gestion locative adaptée* : le bailleur assure un suivi de proximité (paiement du loyer, occupation du logement, voisinage).
- *Sortie* : la fin de l'accompagnement est décidée conjointement ; le ménage est relayé vers les services de droit commun.""",
    ),
    (
        "referents",
        "Référents",
        """Chaque organisation désigne un référent, interlocuteur des autres parties pour le suivi des ménages et l'animation du partenariat : {{ referents }}.

Tout changement de référent est signalé sans délai aux autres parties.""",
    ),
    (
        "coordination",
        "Coordination et instances",
        """- Des réunions de suivi des situations se tiennent chaque mois entre les référents.
- Le comité technique, composé des référents, se réunit chaque trimestre pour examiner les entrées, les sorties et les situations difficiles.
- Le comité de pilotage, réunissant les signataires, les financeurs, les collectivités et le SIAO, se réunit au moins une fois par an ; il examine le bilan et les indicateurs.""",
    ),
    (
        "alertes",
        "Dispositif d'alerte",
        """Les parties s'alertent mutuellement, par écrit et dans les cinq jours ouvrés, en cas :

- d'impayé de loyer ou de trouble de voisinage (du bailleur vers l'association) ;
- de problème technique dans le logement (de l'association vers le bailleur) ;
- d'absence de réponse du ménage ou de rupture de l'accompagnement (dans les deux sens).

Chaque alerte donne lieu à une réponse concertée dans les meilleurs délais.""",
    ),
    (
        "information",
        "Partage d'informations et confidentialité",
        """Le ménage est informé du dispositif et donne son accord écrit à la transmission des informations le concernant.

Le bailleur n'a connaissance que des éléments du diagnostic utiles au projet de logement ; les informations relatives à la santé, à la justice ou aux violences subies ne lui sont pas transmises. Une *fiche navette* rédigée en commun sert aux échanges.

Les parties sont tenues au secret professionnel et à la discrétion pour toute information dont elles ont connaissance.""",
    ),
    (
        "evaluation",
        "Évaluation et indicateurs",
        """Les parties suivent ensemble les indicateurs annexés à la présente convention (réalisation, résultat, impact). Un bilan intermédiaire et un bilan final sont présentés au comité de pilotage.""",
    ),
    (
        "financier",
        "Conditions financières",
        """Le budget du projet s'élève à **{{ total_depenses }}**, dont {{ total_depenses_eligibles }} de dépenses éligibles au fonds. Les coûts de référence sont : diagnostic {{ cout_diagnostic }} par ménage ; accompagnement {{ cout_accompagnement }} par ménage et par an ; gestion locative adaptée {{ cout_gla }} par logement et par an.

La subvention de l'État ({{ montant_subvention }}) est versée à {{ bailleur_porteur }}, qui reverse à chaque association la part correspondant à ses missions : une avance de 50 % dans le mois suivant la réception de la première tranche, le solde à la réception du bilan final validé.""",
    ),
    (
        "duree",
        "Durée et renouvellement",
        """La convention prend effet le {{ date_debut }} pour une durée de {{ duree_mois }} mois, soit jusqu'au {{ date_fin }}.

Elle peut être renouvelée par avenant, dans la limite d'une durée totale de 48 mois.""",
    ),
    (
        "resiliation",
        "Résiliation",
        """Chaque partie peut résilier la convention par lettre recommandée avec un préavis de trois mois. Les ménages accompagnés à la date de résiliation continuent d'être suivis jusqu'à leur relais vers le droit commun.""",
    ),
]

STATE: list[tuple[str, str, str]] = [
    (
        "objet",
        "Objet de la convention",
        """La présente convention a pour objet de définir les conditions dans lesquelles l'État, représenté par {{ service_etat }}, apporte son concours financier au projet « {{ nom_projet }} » porté par {{ bailleur_porteur }}, au titre du fonds national d'accompagnement vers et dans le logement (FNAVDL).""",
    ),
    (
        "public",
        "Public concerné",
        """Le projet s'adresse à {{ nombre_menages }} ménages en grande difficulté : ménages reconnus prioritaires au titre du DALO, ménages sortant de la rue ou d'hébergement, ménages en difficulté dans le parc social, identifiés avec le SIAO.""",
    ),
    (
        "projet",
        "Désignation et caractéristiques du projet",
        """Le projet « {{ nom_projet }} » est mis en œuvre sur le territoire suivant : {{ territoire }}, par {{ partenaires }}. Il porte sur {{ nombre_logements }} logements.""",
    ),
    (
        "plan",
        "Plan de financement",
        """Le coût total du projet est de **{{ total_depenses }}**, couvert par les ressources détaillées dans le plan de financement annexé ({{ total_ressources }}).""",
    ),
    (
        "depenses",
        "Nature et montant prévisionnel des dépenses éligibles",
        """Les dépenses éligibles au fonds s'élèvent à {{ total_depenses_eligibles }} : accompagnement social (diagnostics compris), gestion locative adaptée, ingénierie, coordination et pilotage du projet.

Ne sont pas financés par le fonds : l'investissement, les travaux et l'équipement des logements, les aides au loyer et la gestion locative ordinaire.""",
    ),
    (
        "calendrier",
        "Calendrier de réalisation",
        """Le projet est réalisé du {{ date_debut }} au {{ date_fin }}. Les premières entrées de ménages interviennent dans les trois mois suivant la signature.""",
    ),
    (
        "modalites",
        "Modalités de mise en œuvre des actions",
        """Le porteur coordonne les partenaires, réunit le comité de pilotage au moins une fois par an et transmet au service de l'État un bilan intermédiaire et un bilan final.""",
    ),
    (
        "subvention",
        "Montant et modalités de versement de la subvention",
        """Le montant de la subvention est fixé à **{{ montant_subvention }}**. Elle est versée par la CGLLS, sur décision de paiement du service de l'État : une avance à la signature, un deuxième versement à la réception du bilan intermédiaire, le solde à la réception du bilan final.""",
    ),
    (
        "suivi",
        "Indicateurs de suivi",
        """Le porteur renseigne les indicateurs qualitatifs et quantitatifs annexés à la présente convention et les transmet avec chaque bilan.""",
    ),
    (
        "duree",
        "Durée",
        """La convention est conclue pour {{ duree_mois }} mois à compter du {{ date_debut }}. Elle peut être renouvelée dans la limite d'une durée totale de 48 mois.""",
    ),
    (
        "resiliation",
        "Résiliation et reversement",
        """En cas de non-respect de ses engagements par le porteur, l'État peut résilier la convention et demander le reversement des sommes non employées conformément à leur objet.""",
    ),
]

# (kind, label, unit): the usual indicators; the pilot sets their targets.
INDICATORS: list[tuple[IndicatorKind, str, str]] = [
    (IndicatorKind.ACHIEVEMENT, "Ménages orientés", "ménages"),
    (IndicatorKind.ACHIEVEMENT, "Ménages accompagnés", "ménages"),
    (IndicatorKind.ACHIEVEMENT, "Durée moyenne d'accompagnement", "mois"),
    (IndicatorKind.RESULT, "Sorties positives", "ménages"),
    (IndicatorKind.RESULT, "Baux glissés", "baux"),
    (
        IndicatorKind.IMPACT,
        "Ménages toujours logés six mois après la fin de l'accompagnement",
        "ménages",
    ),
]


def articles(kind: ConventionKind) -> list[tuple[str, str, str]]:
    return PARTNERSHIP if kind == ConventionKind.PARTNERSHIP else STATE
