"""Deterministic, realistic demo data loaded fast: `kontor seed`, `kontor setup`, benchmarks.

Names with accents from ten countries, companies with their own domains, emails
derived from both, tags, custom fields, consent, owners and a year of timeline
activity. The same seed gives the same data in a fresh database. Rows are
written with SQLAlchemy Core inserts (executemany, in chunks, one transaction);
on SQLite the FTS triggers and, for a big load, the secondary indexes are
dropped during the load and recreated from their own stored SQL afterwards.
"""

from __future__ import annotations

import bisect
import gc
import json
import math
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from operator import itemgetter
from random import Random
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, case, func, insert, literal_column, or_, select, text
from sqlalchemy.engine import Connection

from app import audit
from app.auth.models import User
from app.companies.models import Company
from app.contacts.models import Contact, ContactTag, CustomField, CustomFieldValue, Tag
from app.contacts.search import fold, search_text
from app.extensions import db
from app.parallel import can_fork, in_child
from app.timeline.models import CONTACTING_KINDS, Activity
from app.timeutil import utcnow

CHUNK = 20_000
SPAN_DAYS = 3 * 365
ACTIVITY_DAYS = 365
COMPANY_EVERY = 20  # about one company per 20 contacts
BULK_MIN = 20_000  # from this many new contacts (into a smaller table), rebuild indexes after
PARALLEL_MIN = 50_000  # from this many, rows are generated in a child process (a second core)


# --------------------------------------------------------------------------- data


def _w(text_: str) -> tuple[str, ...]:
    return tuple(text_.split())


@dataclass(frozen=True)
class Country:
    """Names, places and formats of one country."""

    code: str
    weight: int
    female: tuple[str, ...]
    male: tuple[str, ...]
    last: tuple[str, ...]
    cities: tuple[tuple[str, str, str | None], ...]  # (city, postcode pattern, state)
    streets: tuple[str, ...]
    street_fmt: str
    tld: str
    mail: tuple[str, ...]
    forms: tuple[str, ...]
    trades: tuple[tuple[str, str], ...]  # (word in the language, industry)
    mobile: tuple[str, int]  # E.164 prefix, digits after it
    landline: tuple[str, int]
    timezone: str
    language: str
    titles: tuple[tuple[str, str], ...] = ()  # (local job title, department)


COUNTRIES: tuple[Country, ...] = (
    Country(
        "FR", 16,
        _w("Camille Léa Chloé Manon Inès Zoé Élise Hélène Céline Margaux Anaïs Océane Noémie "
           "Clémence Sophie Aurélie Mélanie Émilie Amélie Juliette Louise Maëlle Capucine Agnès"),
        _w("Lucas Hugo Théo Louis Mathéo Raphaël Gabriel Jérôme François Stéphane Frédéric "
           "Benoît Sébastien Cédric Loïc Aurélien Grégoire Jean-Luc Thibault Étienne Noël "
           "Antoine Maël Rémi"),
        _w("Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
           "Lefèvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André "
           "Lefebvre Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier Faure "
           "Rousseau Blanc Guérin Müller Chevalier Boyer Lemaître Bérenger Ménard Duchêne"),
        (("Paris", "7500#", None), ("Lyon", "6900#", None), ("Marseille", "1300#", None),
         ("Toulouse", "3100#", None), ("Nantes", "4400#", None), ("Bordeaux", "3300#", None),
         ("Lille", "5900#", None), ("Strasbourg", "6700#", None), ("Montpellier", "3400#", None),
         ("Rennes", "3500#", None), ("Nice", "0600#", None), ("Besançon", "2500#", None)),
        ("rue de la République", "avenue Jean Jaurès", "boulevard Saint-Michel", "rue Victor Hugo",
         "place de l'Église", "rue des Écoles", "chemin des Vignes", "rue du Général Leclerc",
         "quai de la Tournelle", "allée des Érables"),
        "{n} {s}", "fr", ("gmail.com", "orange.fr", "free.fr", "laposte.net", "sfr.fr"),
        ("SAS", "SARL", "SA", ""),
        (("Conseil", "Consulting"), ("Logistique", "Logistics"), ("Bâtiment", "Construction"),
         ("Informatique", "Software"), ("Transports", "Logistics"), ("Immobilier", "Real Estate"),
         ("Énergie", "Energy"), ("Santé", "Healthcare"), ("Boulangerie", "Food & Beverage"),
         ("Éditions", "Media"), ("Assurances", "Finance"), ("Vignobles", "Food & Beverage")),
        ("+3367", 7), ("+331", 8), "Europe/Paris", "fr",
        (("Directeur commercial", "Sales"), ("Directrice marketing", "Marketing"),
         ("Chef de projet", "Engineering"), ("Responsable achats", "Purchasing"),
         ("Gérant", "Management"), ("Ingénieur d'études", "Engineering"),
         ("Chargée de communication", "Marketing"), ("Comptable", "Finance")),
    ),
    Country(
        "DE", 14,
        _w("Anna Lena Leonie Hannah Bärbel Mia Lea Sophie Katharina Jördis Marie Laura "
           "Franziska Anke Birgit Sabine Ute Dörte Käthe Greta Ilse Lotte Heike Tanja"),
        _w("Lukas Jonas Felix Maximilian Jürgen Jörg Björn Sören Günther Dieter Uwe Matthias "
           "Tobias Florian Stefan Andreas Klaus Ralf Kai Timo Volker Bernd Moritz Niklas"),
        _w("Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer "
           "Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger "
           "Hofmann Hartmann Lange Schmitt Werner Schmitz Krause Meier Lehmann Köhler Maier "
           "Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jäger Groß Böhm Günther"),
        (("Berlin", "10###", None), ("München", "80###", None), ("Hamburg", "20###", None),
         ("Köln", "50###", None), ("Frankfurt am Main", "60###", None), ("Stuttgart", "70###", None),
         ("Düsseldorf", "40###", None), ("Leipzig", "04###", None), ("Nürnberg", "90###", None),
         ("Bremen", "28###", None), ("Dresden", "01###", None), ("Münster", "48###", None)),
        ("Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Goethestraße", "Gartenstraße",
         "Lindenallee", "Marktplatz", "Königstraße", "Friedrichstraße", "Mühlenweg"),
        "{s} {n}", "de", ("gmail.com", "gmx.de", "web.de", "t-online.de", "posteo.de"),
        ("GmbH", "AG", "GmbH & Co. KG", "KG"),
        (("Logistik", "Logistics"), ("Bau", "Construction"), ("Software", "Software"),
         ("Beratung", "Consulting"), ("Maschinenbau", "Manufacturing"), ("Handel", "Retail"),
         ("Energietechnik", "Energy"), ("Medizintechnik", "Healthcare"), ("Bäckerei", "Food & Beverage"),
         ("Versicherungen", "Finance"), ("Fahrzeugbau", "Automotive"), ("Immobilien", "Real Estate")),
        ("+49151", 8), ("+4930", 8), "Europe/Berlin", "de",
        (("Geschäftsführer", "Management"), ("Vertriebsleiter", "Sales"),
         ("Leiterin Einkauf", "Purchasing"), ("Projektleiter", "Engineering"),
         ("Softwareentwicklerin", "Engineering"), ("Prokurist", "Finance"),
         ("Marketingleiterin", "Marketing"), ("Buchhalter", "Finance")),
    ),
    Country(
        "ES", 9,
        _w("María Lucía Sofía Martina Paula Valentina Carmen Inés Núria Begoña Mónica Raquel "
           "Pilar Rocío Marta Elena Irene Ángela Alba Beatriz"),
        _w("José Antonio Manuel Francisco Javier David Daniel Carlos Jesús Alejandro Miguel "
           "Rafael Pablo Álvaro Sergio Adrián Iñaki Joaquín Andrés Ramón Víctor Íñigo"),
        _w("García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín "
           "Jiménez Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro "
           "Torres Domínguez Vázquez Ramos Gil Ramírez Serrano Blanco Suárez Molina Morales "
           "Ortega Delgado Castro Ortiz Rubio Marín Sanz Núñez Iglesias Medina Garrido Peña"),
        (("Madrid", "280##", None), ("Barcelona", "080##", None), ("Valencia", "460##", None),
         ("Sevilla", "410##", None), ("Zaragoza", "500##", None), ("Málaga", "290##", None),
         ("Bilbao", "480##", None), ("Alicante", "030##", None), ("Córdoba", "140##", None),
         ("Valladolid", "470##", None), ("A Coruña", "150##", None)),
        ("Calle Mayor", "Avenida de la Constitución", "Calle Real", "Paseo de Gracia",
         "Calle de Alcalá", "Plaza de España", "Gran Vía", "Calle San Martín", "Rambla Nova"),
        "{s}, {n}", "es", ("gmail.com", "hotmail.es", "yahoo.es", "telefonica.net"),
        ("S.L.", "S.A.", "S.L.U.", ""),
        (("Consultores", "Consulting"), ("Logística", "Logistics"), ("Construcciones", "Construction"),
         ("Soluciones", "Software"), ("Inmobiliaria", "Real Estate"), ("Energía", "Energy"),
         ("Alimentación", "Food & Beverage"), ("Transportes", "Logistics"), ("Clínica", "Healthcare"),
         ("Distribuciones", "Retail")),
        ("+346", 8), ("+3491", 7), "Europe/Madrid", "es",
        (("Director comercial", "Sales"), ("Jefa de proyecto", "Engineering"),
         ("Responsable de compras", "Purchasing"), ("Gerente", "Management"),
         ("Directora de marketing", "Marketing"), ("Ingeniero de software", "Engineering")),
    ),
    Country(
        "PL", 7,
        _w("Anna Maria Katarzyna Małgorzata Agnieszka Barbara Ewa Krystyna Magdalena Joanna "
           "Aleksandra Zofia Żaneta Weronika Łucja Jadwiga Bożena Grażyna Dorota Beata"),
        _w("Piotr Krzysztof Andrzej Tomasz Paweł Michał Marcin Jakub Łukasz Grzegorz Wojciech "
           "Mateusz Maciej Rafał Bartłomiej Zbigniew Jarosław Mikołaj Przemysław Sławomir"),
        _w("Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński "
           "Szymański Woźniak Dąbrowski Kozłowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski "
           "Grabowski Nowakowski Pawłowski Michalski Król Wieczorek Jabłoński Wróbel Majewski "
           "Olszewski Stępień Jaworski Malinowski Górski Sikora Walczak Baran Rutkowski Wąsowski "
           "Żak Chmielewski Błaszczyk Gołębiowski"),
        (("Warszawa", "0#-###", None), ("Kraków", "3#-###", None), ("Łódź", "9#-###", None),
         ("Wrocław", "5#-###", None), ("Poznań", "6#-###", None), ("Gdańsk", "80-###", None),
         ("Szczecin", "7#-###", None), ("Lublin", "20-###", None), ("Katowice", "40-###", None),
         ("Białystok", "15-###", None), ("Rzeszów", "35-###", None)),
        ("Marszałkowska", "Piotrkowska", "Długa", "Kościuszki", "Mickiewicza", "Słowackiego",
         "Żeromskiego", "Grunwaldzka", "Świętokrzyska", "Jagiellońska"),
        "ul. {s} {n}", "pl", ("gmail.com", "wp.pl", "onet.pl", "interia.pl", "o2.pl"),
        ("Sp. z o.o.", "S.A.", "Sp.k.", ""),
        (("Logistyka", "Logistics"), ("Budownictwo", "Construction"), ("Systemy", "Software"),
         ("Handel", "Retail"), ("Doradztwo", "Consulting"), ("Energetyka", "Energy"),
         ("Piekarnia", "Food & Beverage"), ("Nieruchomości", "Real Estate"), ("Medyczne", "Healthcare")),
        ("+4860", 7), ("+4822", 7), "Europe/Warsaw", "pl",
        (("Dyrektor sprzedaży", "Sales"), ("Kierownik projektu", "Engineering"),
         ("Księgowa", "Finance"), ("Prezes zarządu", "Management"),
         ("Specjalista ds. zakupów", "Purchasing"), ("Programista", "Engineering")),
    ),
    Country(
        "SE", 4,
        _w("Åsa Märta Maja Elsa Astrid Linnéa Ebba Sofia Ingrid Karin Annika Birgitta Frida "
           "Sigrid Tove Elin"),
        _w("Björn Åke Göran Lars Anders Johan Mikael Per Erik Nils Olle Gustav Måns Sven "
           "Jöns Ulf Örjan Henrik"),
        _w("Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson "
           "Gustafsson Pettersson Jonsson Jansson Hansson Bengtsson Lindström Lindqvist "
           "Ångström Öberg Söderberg Sjöberg Åberg Lindgren Berglund Bergström Håkansson "
           "Nordström Ström Dahlgren Sandström"),
        (("Stockholm", "1## ##", None), ("Göteborg", "4## ##", None), ("Malmö", "2## ##", None),
         ("Uppsala", "75# ##", None), ("Västerås", "72# ##", None), ("Örebro", "70# ##", None),
         ("Linköping", "58# ##", None), ("Umeå", "90# ##", None)),
        ("Storgatan", "Drottninggatan", "Kungsgatan", "Västra Hamngatan", "Sveavägen",
         "Götgatan", "Östermalmsgatan", "Strandvägen"),
        "{s} {n}", "se", ("gmail.com", "telia.com", "hotmail.se", "outlook.com"),
        ("AB", "HB", ""),
        (("Bygg", "Construction"), ("Konsult", "Consulting"), ("Data", "Software"),
         ("Logistik", "Logistics"), ("Energi", "Energy"), ("Fastigheter", "Real Estate"),
         ("Livsmedel", "Food & Beverage"), ("Vård", "Healthcare")),
        ("+4670", 7), ("+468", 7), "Europe/Stockholm", "sv",
        (("Verkställande direktör", "Management"), ("Försäljningschef", "Sales"),
         ("Projektledare", "Engineering"), ("Inköpschef", "Purchasing")),
    ),
    Country(
        "NO", 3,
        _w("Ingrid Kari Solveig Marit Hanne Ragnhild Tone Åse Sølvi Synnøve Guro Silje Hege"),
        _w("Ole Lars Knut Øystein Håkon Jørgen Bjørn Ståle Pål Terje Eirik Sindre Magnus"),
        _w("Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Kristiansen Jensen Karlsen "
           "Johnsen Pettersen Eriksen Berg Haugen Hagen Johannessen Bakken Sørensen Strøm "
           "Dahl Lunde Solberg Bråten Søreide Løvås Aasen Ødegård"),
        (("Oslo", "0###", None), ("Bergen", "50##", None), ("Trondheim", "70##", None),
         ("Stavanger", "40##", None), ("Tromsø", "90##", None), ("Drammen", "30##", None)),
        ("Karl Johans gate", "Storgata", "Kongens gate", "Dronningens gate", "Strandgaten",
         "Bryggen", "Øvre Slottsgate"),
        "{s} {n}", "no", ("gmail.com", "online.no", "hotmail.no"),
        ("AS", "ASA", ""),
        (("Bygg", "Construction"), ("Rådgivning", "Consulting"), ("Data", "Software"),
         ("Sjømat", "Food & Beverage"), ("Energi", "Energy"), ("Eiendom", "Real Estate")),
        ("+4741", 6), ("+4722", 6), "Europe/Oslo", "nb",
    ),
    Country(
        "DK", 3,
        _w("Mette Anne Kirsten Hanne Susanne Lene Maja Freja Signe Ida Astrid Søs Bodil"),
        _w("Søren Jens Niels Lars Rasmus Mads Anders Henrik Frederik Jørn Ejnar Torben Kåre"),
        _w("Nielsen Jensen Hansen Pedersen Andersen Christensen Larsen Sørensen Rasmussen "
           "Jørgensen Petersen Madsen Kristensen Olsen Thomsen Christiansen Poulsen Johansen "
           "Møller Mortensen Østergaard Kjær Lauridsen Dalsgaard Bækgaard Søndergaard"),
        (("København", "1###", None), ("Aarhus", "80##", None), ("Odense", "5###", None),
         ("Aalborg", "9###", None), ("Esbjerg", "67##", None), ("Roskilde", "4000", None)),
        ("Strøget", "Nørregade", "Østergade", "Vestergade", "Søndergade", "Algade",
         "Nyhavn", "Kongens Nytorv"),
        "{s} {n}", "dk", ("gmail.com", "mail.dk", "hotmail.dk", "jubii.dk"),
        ("ApS", "A/S", ""),
        (("Byg", "Construction"), ("Rådgivning", "Consulting"), ("Data", "Software"),
         ("Logistik", "Logistics"), ("Energi", "Energy"), ("Fødevarer", "Food & Beverage")),
        ("+45212", 5), ("+45331", 5), "Europe/Copenhagen", "da",
    ),
    Country(
        "GB", 13,
        _w("Olivia Amelia Isla Ava Emily Sophie Grace Charlotte Lily Ella Chloe Evie Harriet "
           "Eleanor Siobhan Niamh Zoë Bethany Imogen Rosie Freya Megan Abigail Lucy"),
        _w("Oliver George Harry Jack Jacob Noah Charlie Thomas Oscar William James Alfie "
           "Joshua Daniel Callum Rhys Seán Dylan Owen Archie Edward Henry Samuel Liam"),
        _w("Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts "
           "Robinson Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke "
           "Patel Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker "
           "Harrison Morgan Allen O'Brien O'Connor MacDonald Ó'Súilleabháin"),
        (("London", "SW1A #@@", None), ("Manchester", "M# #@@", None),
         ("Birmingham", "B# #@@", None), ("Leeds", "LS# #@@", None), ("Glasgow", "G# #@@", None),
         ("Edinburgh", "EH# #@@", None), ("Bristol", "BS# #@@", None),
         ("Liverpool", "L# #@@", None), ("Cardiff", "CF# #@@", None), ("Belfast", "BT# #@@", None)),
        ("High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue",
         "Mill Lane", "King Street", "Queen's Road", "The Green", "Manor Way"),
        "{n} {s}", "co.uk", ("gmail.com", "hotmail.co.uk", "btinternet.com", "outlook.com"),
        ("Ltd", "LLP", "plc", ""),
        (("Consulting", "Consulting"), ("Logistics", "Logistics"), ("Builders", "Construction"),
         ("Software", "Software"), ("Analytics", "Software"), ("Properties", "Real Estate"),
         ("Energy", "Energy"), ("Healthcare", "Healthcare"), ("Foods", "Food & Beverage"),
         ("Media", "Media"), ("Capital", "Finance"), ("Retail", "Retail")),
        ("+447712", 6), ("+44207", 7), "Europe/London", "en",
    ),
    Country(
        "US", 16,
        _w("Emma Olivia Ava Isabella Sophia Mia Charlotte Amelia Harper Evelyn Abigail Emily "
           "Madison Chloé Avery Ella Scarlett Grace Zoey Nora Riley Hannah Layla Brooklyn"),
        _w("Liam Noah William James Logan Benjamin Mason Elijah Oliver Jacob Lucas Michael "
           "Alexander Ethan Daniel Matthew Aiden Henry Joseph Jackson Samuel Sebastian David "
           "Carter Wyatt"),
        _w("Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore "
           "Jackson White Harris Martin Thompson Garcia Martinez Robinson Clark Rodriguez Lewis "
           "Lee Walker Hall Allen Young Hernández King Wright López Hill Scott Green Adams Baker "
           "Nelson Carter Mitchell Nguyen Kim Cohen Schwartz Kowalski"),
        (("New York", "100##", "NY"), ("San Francisco", "941##", "CA"),
         ("Los Angeles", "900##", "CA"), ("Chicago", "606##", "IL"), ("Boston", "021##", "MA"),
         ("Seattle", "981##", "WA"), ("Austin", "787##", "TX"), ("Denver", "802##", "CO"),
         ("Atlanta", "303##", "GA"), ("Miami", "331##", "FL"), ("Portland", "972##", "OR")),
        ("Main Street", "Oak Avenue", "Maple Drive", "Broadway", "Market Street",
         "Elm Street", "Washington Avenue", "Sunset Boulevard", "5th Avenue", "Pine Street"),
        "{n} {s}", "com", ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com"),
        ("Inc.", "LLC", "Corp.", ""),
        (("Labs", "Software"), ("Software", "Software"), ("Logistics", "Logistics"),
         ("Partners", "Consulting"), ("Health", "Healthcare"), ("Realty", "Real Estate"),
         ("Energy", "Energy"), ("Foods", "Food & Beverage"), ("Media", "Media"),
         ("Financial", "Finance"), ("Motors", "Automotive"), ("Systems", "Software")),
        ("+1", 10), ("+1", 10), "America/New_York", "en",
    ),
    Country(
        "IT", 5,
        _w("Giulia Francesca Chiara Sara Martina Alessia Valentina Federica Elisa Silvia "
           "Beatrice Aurora Ginevra Noemi Lucrezia"),
        _w("Francesco Alessandro Lorenzo Matteo Andrea Gabriele Leonardo Riccardo Niccolò "
           "Tommaso Davide Giuseppe Nicolò Mattia Federico"),
        _w("Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno "
           "Gallo Conti De Luca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri "
           "Fontana Santoro Mariani Rinaldi Caruso Ferrara Galli Martini Leone Longo "
           "D'Angelo Sanità Cantù"),
        (("Roma", "001##", None), ("Milano", "201##", None), ("Napoli", "801##", None),
         ("Torino", "101##", None), ("Bologna", "401##", None), ("Firenze", "501##", None),
         ("Genova", "161##", None), ("Venezia", "301##", None)),
        ("Via Roma", "Corso Italia", "Via Garibaldi", "Piazza del Duomo", "Via Mazzini",
         "Via Cavour", "Corso Vittorio Emanuele II", "Via dei Mille"),
        "{s}, {n}", "it", ("gmail.com", "libero.it", "virgilio.it", "alice.it"),
        ("S.r.l.", "S.p.A.", "S.n.c.", ""),
        (("Costruzioni", "Construction"), ("Consulenza", "Consulting"), ("Logistica", "Logistics"),
         ("Sistemi", "Software"), ("Alimentari", "Food & Beverage"), ("Immobiliare", "Real Estate"),
         ("Energia", "Energy"), ("Moda", "Retail")),
        ("+3934", 8), ("+3902", 8), "Europe/Rome", "it",
    ),
)  # fmt: skip

BRAND_HEADS = _w(
    "Nord Sol Alp Blue Verde Terra Luma Orbi Vega Nova Atlas Helio Arc Stella Polar Zen "
    "Quanta Flux Kora Sylva Mira Opti Astra Cobalt Linea Aero Brio Cima Delta Ember Fjord "
    "Gala Iris Juno Kite Lago Maris Nimbus Onda Pixel Rivo Silva Tessa Umbra Volta Wren"
)
BRAND_TAILS = ("", "", "tec", "ware", "logic", "data", "net", "mark", "line", "works", "via",
               "sys", "is", "eo", "lab", "hub")  # fmt: skip
SIZES = (("1-10", 30), ("11-50", 30), ("51-200", 20), ("201-500", 10), ("501-1000", 5),
         ("1000+", 5))  # fmt: skip

DEPARTMENTS = {
    "Sales": ("Sales Manager", "Account Executive", "Head of Sales", "Sales Director",
              "Business Developer", "Key Account Manager", "Inside Sales Representative"),
    "Marketing": ("Marketing Manager", "CMO", "Content Strategist", "Growth Marketer",
                  "Brand Manager", "Marketing Assistant"),
    "Engineering": ("Software Engineer", "CTO", "Engineering Manager", "DevOps Engineer",
                    "Data Engineer", "QA Engineer", "Product Manager"),
    "Finance": ("CFO", "Accountant", "Financial Controller", "Finance Manager"),
    "Operations": ("COO", "Operations Manager", "Office Manager", "Logistics Coordinator",
                   "Supply Chain Manager"),
    "Human Resources": ("HR Manager", "Recruiter", "Head of People"),
    "Management": ("CEO", "Founder", "Managing Director", "General Manager", "Co-founder"),
    "Customer Success": ("Customer Success Manager", "Support Specialist",
                         "Head of Customer Success"),
    "Purchasing": ("Purchasing Manager", "Buyer", "Procurement Officer"),
    "Legal": ("Legal Counsel", "Data Protection Officer"),
}  # fmt: skip
DEPARTMENT_WEIGHTS = (("Sales", 22), ("Marketing", 15), ("Engineering", 15), ("Finance", 8),
                      ("Operations", 10), ("Human Resources", 5), ("Management", 12),
                      ("Customer Success", 6), ("Purchasing", 5), ("Legal", 2))  # fmt: skip
SENIOR = {"CEO", "CTO", "CFO", "COO", "CMO", "Founder", "Co-founder", "Managing Director",
          "General Manager", "Head of Sales", "Sales Director", "Head of People",
          "Head of Customer Success", "Gérant", "Geschäftsführer", "Gerente", "Prezes zarządu",
          "Verkställande direktör"}  # fmt: skip

STATUSES = (("active", 78), ("inactive", 8), ("replied", 5), ("unsubscribed", 5),
            ("bounced", 3), ("blocked", 1))  # fmt: skip
LIFECYCLES = (("cold_lead", 30), ("warm_lead", 20), ("hot_lead", 8), ("qualified_lead", 10),
              ("customer", 20), ("partner", 4), ("vendor", 3), ("other", 5))  # fmt: skip
SCORE_RANGES = {"cold_lead": (0, 30), "warm_lead": (20, 60), "hot_lead": (60, 95),
                "qualified_lead": (50, 90), "customer": (40, 100), "partner": (30, 80),
                "vendor": (0, 40), "other": (0, 50), None: (0, 40)}  # fmt: skip
SOURCES = (("Website form", 24), ("Import", 18), ("Referral", 10), ("LinkedIn", 10),
           ("Trade show", 8), ("Webinar", 7), ("Cold outreach", 8), ("Partner", 5),
           ("Gmail", 5), ("API", 3), ("HubSpot", 2))  # fmt: skip
ROLE_NAMES = ("decision_maker", "influencer", "champion", "blocker", "end_user", "other")
CONSENTS = (("opted_in", 42), ("unknown", 30), ("pending", 10), ("opted_out", 18))
CONSENT_TYPES = (("explicit", 60), ("implied", 25), ("imported", 15))
CONSENT_SOURCES = ("Website form", "Trade show", "Import", "Webinar registration",
                   "Newsletter signup", "Checkout")  # fmt: skip
VERIFICATIONS = (("valid", 60), ("risky", 8), ("invalid", 3), ("unknown", 4), (None, 25))
CHANNELS = (("email", 60), ("phone", 25), ("sms", 10), ("mail", 5))
FREQUENCIES = (("weekly", 30), ("monthly", 45), ("quarterly", 15), ("daily", 5), ("never", 5))
TOPICS = ("product", "events", "newsletter", "offers", "training")

TAGS = (("Newsletter", "#3b82f6", 30), ("Prospect", "#f59e0b", 22), ("VIP", "#dc2626", 6),
        ("Partner", "#10b981", 8), ("Trade show", "#8b5cf6", 10), ("Webinar", "#06b6d4", 10),
        ("Churn risk", "#ef4444", 5), ("Beta tester", "#84cc16", 5), ("Investor", "#a855f7", 2),
        ("Press", "#64748b", 2))  # fmt: skip
TAG_COUNTS = ((0, 40), (1, 35), (2, 18), (3, 7))

CUSTOM_FIELDS = (
    ("plan", "Plan", "select", ["free", "pro", "team"]),
    ("seats", "Seats", "number", None),
    ("renewal_date", "Renewal date", "date", None),
    ("newsletter", "Newsletter", "boolean", None),
)
PLANS = (("free", 50), ("pro", 30), ("team", 20))

ACTIVITY_KINDS = (("email_sent", 22), ("email_opened", 24), ("email_clicked", 10),
                  ("email_received", 8), ("call", 8), ("meeting", 5), ("note", 7),
                  ("task", 3), ("form_submit", 5), ("custom_event", 8))  # fmt: skip
CAMPAIGNS = ("Spring newsletter", "Product update: the new dashboard",
             "Invitation: webinar on data privacy", "Your trial ends in 3 days",
             "Summer offer: 20% off the team plan", "Customer stories", "We miss you",
             "Event recap: Salon Digital Lyon", "Release notes", "Black Friday preview")  # fmt: skip
REPLIES = ("Re: Proposal", "Re: Pricing question", "Re: Meeting next week", "Question about "
           "my invoice", "Re: Follow-up", "Partnership opportunity")  # fmt: skip
CALLS = ("Discovery call", "Follow-up call", "Pricing call", "Onboarding call", "Check-in call")
MEETINGS = ("Product demo", "Quarterly review", "Contract negotiation", "Kick-off meeting",
            "Lunch at the trade show")  # fmt: skip
NOTES = ("Interested in the team plan for next quarter.", "Asked for a case study in their "
         "industry.", "Budget approved, waiting for the purchase order.", "Prefers to be "
         "called in the morning.", "Met at the trade show, follow up in two weeks.",
         "Uses a competitor today; contract ends in June.", "Café crème and croissants at the "
         "meeting — très bien.")  # fmt: skip
TASKS = ("Send the proposal", "Call back about pricing", "Prepare the demo", "Send the contract")
FORMS = ("Request a demo", "Contact us", "Download the white paper", "Newsletter signup")
PRODUCTS = (("Pro plan (annual)", 290.0), ("Team plan (annual)", 990.0),
            ("Extra seats", 120.0), ("Onboarding package", 450.0), ("Pro plan (monthly)", 29.0))  # fmt: skip
USER_KINDS = frozenset(("email_sent", "call", "meeting", "note", "task"))
ACTIVITY_SOURCE = {"email_sent": "campaign", "email_opened": "campaign",
                   "email_clicked": "campaign", "email_received": "gmail", "call": "manual",
                   "meeting": "manual", "note": "manual", "task": "manual",
                   "form_submit": "web", "custom_event": "shop"}  # fmt: skip


# --------------------------------------------------------------------------- helpers


class Weighted:
    """Weighted choice over a fixed set. `table` holds TABLE slots shared out by weight, so
    the hot loop picks with table[int(r() * TABLE)] (no call, no search)."""

    TABLE = 1024

    def __init__(self, pairs: Sequence[tuple[Any, float]]):
        self.values = [v for v, _ in pairs]
        self.cum: list[float] = []
        total = 0.0
        for _, weight in pairs:
            total += weight
            self.cum.append(total)
        self.total = total
        self.table = tuple(self.pick((i + 0.5) / self.TABLE) for i in range(self.TABLE))

    def pick(self, r: float) -> Any:
        """The value for a uniform number r in [0, 1)."""
        return self.values[bisect.bisect_right(self.cum, r * self.total)]


@cache
def _slug(name: str) -> str:
    """ASCII email/domain part of a name: "Jean-Luc" -> "jean-luc", "O'Brien" -> "obrien"."""
    return re.sub(r"[^a-z0-9-]", "", fold(name).replace(" ", "-").replace("ß", "ss")).strip("-")


_words_of = cache(search_text)  # names and domains repeat: fold each once
_SEPARATORS = str.maketrans("._-", "   ")


def _local_words(local: str) -> str:
    """search_text() of an email's local part made of slugs (ASCII a-z 0-9 . _ -), without
    the Unicode folding it does not need; tests check it equals search_text()."""
    return " ".join(local.translate(_SEPARATORS).split())


def _fill(pattern: str, rng: Random) -> str:
    """A postcode from a pattern: # is a digit, @ a letter."""
    out = []
    for ch in pattern:
        if ch == "#":
            out.append(str(rng.randrange(10)))
        elif ch == "@":
            out.append("ABDEFGHJLNPQRSTUWXYZ"[rng.randrange(20)])
        else:
            out.append(ch)
    return "".join(out)


US_AREAS = ("212", "415", "617", "312", "206", "512", "303", "404", "305", "503")


def _phone(spec: tuple[str, int], r: Callable[[], float]) -> str:
    """A valid-looking E.164 number; `r` is the generator's random()."""
    prefix, digits = spec
    if prefix == "+1":  # NANP: the area code and the exchange both start with 2-9
        exchange = 200 + int(r() * 800)
        return f"+1{US_AREAS[int(r() * 10)]}{exchange}{int(r() * 10000):04d}"
    return f"{prefix}{int(r() * 10**digits):0{digits}d}"


class _Clock:
    """Seconds since the start of the span -> the datetime text SQLAlchemy stores on
    SQLite (and PostgreSQL parses); much faster than formatting datetimes."""

    def __init__(self, start: datetime, days: int):
        self.start = start
        self.days = [(start + timedelta(days=d)).date().isoformat() for d in range(days)]
        self.hms = [
            f"{h:02d}:{m:02d}:{s:02d}.000000"
            for h in range(24)
            for m in range(60)
            for s in range(60)
        ]

    def __call__(self, seconds: int) -> str:
        day, rest = divmod(seconds, 86400)
        return f"{self.days[day]} {self.hms[rest]}"

    def date(self, seconds: int) -> str:
        return self.days[seconds // 86400]


def _emit(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- generator

# Columns written, in the order the generator builds rows (always-empty ones are left out).
CONTACT_COLUMNS = (
    "id", "email", "first_name", "middle_name", "last_name", "secondary_emails", "phone",
    "mobile_phone", "home_phone", "job_title", "department", "company_id", "role", "status",
    "lifecycle", "lead_score", "source", "owner_id", "address_line1", "city", "state",
    "postcode", "country", "mailing_line1", "mailing_city", "mailing_postcode",
    "mailing_country", "birthday", "timezone", "language", "linkedin_url", "twitter",
    "external_id", "email_verification", "consent_status", "consent_type", "consent_date",
    "consent_source", "gdpr_basis", "comm_channel", "comm_frequency", "comm_topics",
    "referred_by_id", "reports_to_id", "search_text", "created_at", "updated_at",
    "last_contacted_at", "last_activity_at", "archived_at", "version",
)  # fmt: skip
COMPANY_COLUMNS = ("id", "name", "domain", "website", "industry", "size", "phone",
                   "address_line1", "city", "postcode", "country", "owner_id", "created_at",
                   "updated_at", "version")  # fmt: skip
TAG_COLUMNS = ("contact_id", "tag_id")
VALUE_COLUMNS = ("contact_id", "field_id", "value_text", "value_number", "value_date",
                 "value_bool")  # fmt: skip
ACTIVITY_COLUMNS = ("contact_id", "user_id", "kind", "subject", "body", "data", "event_name",
                    "value", "source", "occurred_at", "due_at", "completed_at", "created_at")  # fmt: skip
_OWNER = CONTACT_COLUMNS.index("owner_id")
_LAST_CONTACTED = CONTACT_COLUMNS.index("last_contacted_at")
_LAST_ACTIVITY = CONTACT_COLUMNS.index("last_activity_at")
_VALUE_SLOT = {"select": 2, "number": 3, "date": 4, "boolean": 5}


@dataclass
class _CompanyInfo:
    id: int
    country: Country
    domain: str
    words: str  # search words of the name
    head_id: int | None = None  # a senior contact others may report to


@dataclass(frozen=True)
class _Plan:
    """What one seed run writes: sizes, first ids and the ids of what it refers to."""

    contacts: int
    activities: int
    companies: int
    first_contact_id: int
    first_company_id: int
    tag_ids: tuple[int, ...]
    fields: dict[str, tuple[int, int]]  # custom field name -> (id, value slot)


class _Generator:
    """Produces rows as lists in the *_COLUMNS order, with `null` standing for NULL;
    every random draw comes from one seeded stream per purpose."""

    def __init__(
        self,
        seed_key: str,
        anchor: datetime,
        owners: list[int],
        used_emails: set[str],
        used_domains: set[str],
        null: Any = None,
    ):
        self.rng = Random(f"{seed_key}:contacts")
        self.act_rng = Random(f"{seed_key}:activities")
        self.null = null
        self.anchor = anchor
        self.start = anchor - timedelta(days=SPAN_DAYS)
        self.clock = _Clock(self.start, SPAN_DAYS + 40)
        self.owners = owners
        self.used_emails = used_emails
        self.used_domains = used_domains
        self.countries = Weighted([(c, c.weight) for c in COUNTRIES])
        self.statuses = Weighted(STATUSES)
        self.lifecycles = Weighted(LIFECYCLES)
        self.sources = Weighted(SOURCES)
        self.consents = Weighted(CONSENTS)
        self.consent_types = Weighted(CONSENT_TYPES)
        self.verifications = Weighted([(v if v else null, w) for v, w in VERIFICATIONS])
        self.channels = Weighted(CHANNELS)
        self.frequencies = Weighted(FREQUENCIES)
        self.departments = Weighted(DEPARTMENT_WEIGHTS)
        self.sizes = Weighted(SIZES)
        self.tag_counts = Weighted(TAG_COUNTS)
        self.plans = Weighted(PLANS)
        self.kinds = Weighted(ACTIVITY_KINDS)
        self.tag_weights = Weighted([(i, w) for i, (_, _, w) in enumerate(TAGS)])
        places = Random(f"{seed_key}:places")
        self.postcodes = {  # a few postcodes per city, drawn once
            (c.code, city): tuple(_fill(pattern, places) for _ in range(24))
            for c in COUNTRIES
            for city, pattern, _ in c.cities
        }
        self.companies: list[_CompanyInfo] = []
        self.owner_turn = 0
        self._time = 0.0
        self._burst = 0

    # ---- companies

    def company_rows(self, n: int, first_id: int) -> list[list[Any]]:
        """n companies with unique domains, added in the first month of the span."""
        r, null, clock = self.rng.random, self.null, self.clock
        rows = []
        for j in range(n):
            country = self.countries.pick(r())
            name, domain, industry = self._company_name(country)
            city, _, _ = country.cities[int(r() * len(country.cities))]
            created = clock(int(r() * 30 * 86400))
            cid = first_id + j
            self.companies.append(_CompanyInfo(cid, country, domain, _words_of(name)))
            owner = self._owner(0.7)
            rows.append(
                [
                    cid,
                    name,
                    domain,
                    f"https://www.{domain}",
                    industry,
                    self.sizes.pick(r()),
                    _phone(country.landline, r) if r() < 0.7 else null,
                    self._street(country),
                    city,
                    self._postcode(country, city),
                    country.code,
                    null if owner is None else owner,
                    created,
                    created,
                    1,
                ]
            )
        return rows

    def _company_name(self, c: Country) -> tuple[str, str, str]:
        """A name in the country's style and a domain no other company has."""
        r = self.rng.random

        def one(seq):
            return seq[int(r() * len(seq))]

        base = ""
        for attempt in range(12):
            trade, industry = one(c.trades)
            last, form = one(c.last), one(c.forms)
            brand = one(BRAND_HEADS) + one(BRAND_TAILS)
            shape = int(r() * 5)
            if shape == 4 and c.code not in ("FR", "ES", "IT", "PL"):
                shape = 0  # "Transports Lefebvre" reads right in Romance languages only
            if shape == 0:
                name, base = f"{last} {form}", _slug(last)
            elif shape == 1:
                name, base = f"{brand} {trade}", _slug(brand) + _slug(trade)
            elif shape == 2:
                name, base = f"{brand} {trade} {form}", f"{_slug(brand)}-{_slug(trade)}"
            elif shape == 3:
                other = one(c.last)
                joiner = {"PL": "i", "ES": "y", "IT": "e", "FR": "et"}.get(c.code, "&")
                name, base = f"{last} {joiner} {other}", f"{_slug(last)}-{_slug(other)}"
            else:
                name, base = f"{trade} {last}", f"{_slug(trade)}-{_slug(last)}"
            if attempt >= 8:
                base = f"{base}{attempt - 6}"
            domain = f"{base}.{c.tld}"
            if domain not in self.used_domains:
                self.used_domains.add(domain)
                return name.strip(), domain, industry
        n = 2
        while f"{base}-{n}.{c.tld}" in self.used_domains:
            n += 1
        domain = f"{base}-{n}.{c.tld}"
        self.used_domains.add(domain)
        return name.strip(), domain, industry

    def _street(self, c: Country) -> str:
        r = self.rng.random
        return c.street_fmt.format(n=1 + int(r() * 180), s=c.streets[int(r() * len(c.streets))])

    def _postcode(self, c: Country, city: str) -> str:
        codes = self.postcodes[(c.code, city)]
        return codes[int(self.rng.random() * len(codes))]

    def _owner(self, share: float) -> int | None:
        """The next owner in turn, or None (the share of rows without an owner)."""
        if not self.owners or self.rng.random() >= share:
            return None
        self.owner_turn += 1
        return self.owners[self.owner_turn % len(self.owners)]

    # ---- contacts

    def created_seconds(self, n_total: int, count: int) -> list[int]:
        """Creation times (seconds into the span) of the next `count` contacts: increasing,
        with the occasional import that creates a batch in the same second."""
        r = self.rng.random
        span = SPAN_DAYS * 86400 - 1
        mean = span / max(n_total, 1)
        out = []
        for _ in range(count):
            if self._burst:
                self._burst -= 1
            elif r() < 0.002:
                self._burst = 5 + int(r() * 115)
                self._time += mean * self._burst * r()
            else:
                self._time += -mean * math.log(1.0 - r())
            out.append(min(int(self._time), span))
        return out

    def email(self, first: str, last: str, domain: str | None, c: Country) -> str:
        """A unique lower-case address from the names, at the company's domain or a free one."""
        r = self.rng.random
        f, la = _slug(first) or "contact", _slug(last) or "x"
        shape = r()
        if domain is not None:
            if shape < 0.6:
                local = f"{f}.{la}"
            elif shape < 0.75:
                local = f"{f[0]}.{la}"
            elif shape < 0.82:
                local = f"{f}{la}"
            elif shape < 0.92:
                local = f
            else:
                local = f"{f}_{la}"
        else:
            domain = c.mail[int(r() * len(c.mail))]
            if shape < 0.4:
                local = f"{f}.{la}"
            elif shape < 0.7:
                local = f"{f}.{la}{1 + int(r() * 99)}"
            elif shape < 0.9:
                local = f"{f}{la}{1950 + int(r() * 55)}"
            else:
                local = f"{f[0]}{la}"
        email = f"{local}@{domain}"
        used = self.used_emails
        if email in used:
            n = 2
            while f"{local}{n}@{domain}" in used:
                n += 1
            email = f"{local}{n}@{domain}"
        used.add(email)
        return email

    def contacts(
        self, plan: _Plan, first_id: int, created: list[int], timeline: bool
    ) -> tuple[list[list[Any]], list[tuple[int, int]], list[list[Any]]]:
        """Contact rows for ids first_id.., their (contact, tag) rows and custom values.

        With `timeline`, last_activity_at and last_contacted_at are left empty for
        activities() to fill; without, some contacts get plausible values of their own.
        """
        r, null, clock = self.rng.random, self.null, self.clock

        def rr(n: int) -> int:
            return int(r() * n)

        anchor_s = SPAN_DAYS * 86400
        year_lo = anchor_s - ACTIVITY_DAYS * 86400
        companies = self.companies
        n_comp = len(companies)
        size = Weighted.TABLE  # picks below: table[int(r() * size)]
        countries, departments = self.countries.table, self.departments.table
        statuses, lifecycles = self.statuses.table, self.lifecycles.table
        consents, consent_types = self.consents.table, self.consent_types.table
        sources, verifications = self.sources.table, self.verifications.table
        channels, frequencies = self.channels.table, self.frequencies.table
        tag_counts, tag_weights = self.tag_counts.table, self.tag_weights.table
        owners, n_owners = self.owners, len(self.owners)
        tag_ids, fields = plan.tag_ids, plan.fields
        today = self.anchor.date()
        rows: list[list[Any]] = []
        tags: list[tuple[int, int]] = []
        values: list[list[Any]] = []
        for k, born in enumerate(created):
            cid = first_id + k
            company = companies[int(n_comp * r() ** 1.6)] if n_comp and r() < 0.72 else None
            country = company.country if company is not None and r() < 0.85 else None
            if country is None:
                country = countries[int(r() * size)]
            names = country if r() < 0.88 else countries[int(r() * size)]
            pool = names.female if r() < 0.5 else names.male
            first = pool[rr(len(pool))]
            middle = pool[rr(len(pool))] if r() < 0.06 else None
            if middle == first:
                middle = None
            last = names.last[rr(len(names.last))]
            email = self.email(first, last, company.domain if company else None, country)
            slug_f, slug_l = _slug(first), _slug(last)
            secondary = None
            if r() < 0.04:
                secondary = f"{slug_f}.{slug_l}{10 + rr(990)}@{country.mail[0]}"
            department = title = role = null
            if r() < (0.9 if company else 0.3):
                if country.titles and r() < 0.25:
                    title, department = country.titles[rr(len(country.titles))]
                else:
                    department = departments[int(r() * size)]
                    titles = DEPARTMENTS[department]
                    title = titles[rr(len(titles))]
                if r() < 0.65:
                    role = "decision_maker" if title in SENIOR else ROLE_NAMES[1 + rr(5)]
            reports_to = null
            if company is not None:
                if title in SENIOR and company.head_id is None:
                    company.head_id = cid
                elif company.head_id is not None and r() < 0.25:
                    reports_to = company.head_id
            status = statuses[int(r() * size)]
            lifecycle = lifecycles[int(r() * size)] if r() < 0.92 else None
            lo, hi = SCORE_RANGES[lifecycle]
            score = lo + rr(hi - lo + 1)
            if status in ("unsubscribed", "bounced", "blocked"):
                score //= 3
            consent = "opted_out" if status == "unsubscribed" else consents[int(r() * size)]
            consent_type = consent_date = consent_source = basis = null
            if consent in ("opted_in", "opted_out"):
                consent_type = consent_types[int(r() * size)]
                consent_date = clock(born + rr(86400 * 30))
                consent_source = CONSENT_SOURCES[rr(len(CONSENT_SOURCES))]
            if consent == "opted_in":
                basis = "consent"
            elif lifecycle == "customer":
                basis = "contract"
            elif r() < 0.5:
                basis = "legitimate_interest"
            city = postcode = state = address = null
            has_country, mailing = r() < 0.95, False
            country_code = country.code if has_country else null
            if has_country and r() < 0.8:
                city, _, state = country.cities[rr(len(country.cities))]
                if state is None:
                    state = null
                if r() < 0.6:
                    address = self._street(country)
                    postcode = self._postcode(country, city)
                    mailing = r() < 0.03
            act = con = null
            if not timeline and r() < 0.6:
                lo_s = max(born, year_lo)
                act_s = lo_s + rr(anchor_s - lo_s)
                act = clock(act_s)
                if r() < 0.6:
                    con = clock(lo_s + rr(act_s - lo_s + 1))
            updated = born + rr(anchor_s - born) if r() < 0.4 else born
            local, _, domain = email.partition("@")
            words = [_words_of(first)]
            if middle:
                words.append(_words_of(middle))
            words.append(_words_of(last))
            words.append(_local_words(local))  # == search_text(email): "@" separates words
            words.append(_words_of(domain))
            if company is not None:
                words.append(company.words)
            if secondary:
                words.append(search_text(secondary))
            owner = null
            if n_owners and r() < 0.85:  # round-robin over the users
                self.owner_turn += 1
                owner = owners[self.owner_turn % n_owners]
            rows.append(
                [
                    cid,
                    email,
                    first,
                    middle or null,
                    last,
                    json.dumps([secondary]) if secondary else null,
                    _phone(country.landline, r) if company and r() < 0.45 else null,
                    _phone(country.mobile, r) if r() < 0.55 else null,
                    _phone(country.landline, r) if r() < 0.04 else null,
                    title,
                    department,
                    company.id if company else null,
                    role,
                    status,
                    lifecycle or null,
                    score,
                    sources[int(r() * size)],
                    owner,
                    address,
                    city,
                    state,
                    postcode,
                    country_code,
                    f"BP {1 + rr(999)}" if mailing else null,
                    city if mailing else null,
                    postcode if mailing else null,
                    country_code if mailing else null,
                    f"{1955 + rr(48)}-{1 + rr(12):02d}-{1 + rr(28):02d}" if r() < 0.25 else null,
                    country.timezone if r() < 0.7 else null,
                    country.language if r() < 0.7 else null,
                    (
                        f"https://www.linkedin.com/in/{slug_f}-{slug_l}-{rr(16**6):06x}"
                        if r() < 0.45
                        else null
                    ),
                    f"@{slug_f}{slug_l}"[:16] if r() < 0.08 else null,
                    f"HS{rr(10**8):08d}" if r() < 0.08 else null,
                    verifications[int(r() * size)],
                    consent,
                    consent_type,
                    consent_date,
                    consent_source,
                    basis,
                    channels[int(r() * size)] if r() < 0.25 else null,
                    frequencies[int(r() * size)] if r() < 0.2 else null,
                    (
                        json.dumps(sorted({TOPICS[rr(5)] for _ in range(1 + rr(2))}))
                        if r() < 0.15
                        else null
                    ),
                    first_id + rr(k) if k and r() < 0.02 else null,
                    reports_to,
                    " ".join(w for w in words if w),
                    clock(born),
                    clock(updated),
                    con,
                    act,
                    clock(updated) if r() < 0.01 else null,
                    1,
                ]
            )
            n_tags = tag_counts[int(r() * size)]
            if n_tags:
                chosen = {tag_weights[int(r() * size)] for _ in range(n_tags)}
                tags.extend((cid, tag_ids[t]) for t in sorted(chosen))
            if r() < 0.4:
                plan_name = self.plans.pick(r())
                self._value(values, fields, cid, "plan", plan_name)
                if plan_name != "free":
                    self._value(values, fields, cid, "seats", float(1 + int(r() ** 3 * 60)))
                    renewal = today + timedelta(days=rr(395) - 30)
                    self._value(values, fields, cid, "renewal_date", renewal.isoformat())
            if r() < 0.3:
                self._value(values, fields, cid, "newsletter", r() < 0.6)
        return rows, tags, values

    def _value(self, out: list, fields: dict, cid: int, name: str, value: Any) -> None:
        if name in fields:
            field_id, slot = fields[name]
            row = [cid, field_id, self.null, self.null, self.null, self.null]
            row[slot] = value
            out.append(row)

    # ---- activities

    def activities(
        self, targets: Sequence[tuple[int, int, Any]], count: int
    ) -> tuple[list[list[Any]], dict[int, list[int]]]:
        """`count` activities over the last year for contacts drawn from `targets`
        ((contact id, created second, owner)); returns the rows and, per target index,
        the [last activity, last contacted] seconds they imply (-1: none)."""
        r, null, clock = self.act_rng.random, self.null, self.clock

        def rr(n: int) -> int:
            return int(r() * n)

        anchor_s = SPAN_DAYS * 86400
        year_lo = anchor_s - ACTIVITY_DAYS * 86400
        rows: list[list[Any]] = []
        last: dict[int, list[int]] = {}
        n = len(targets)
        for _ in range(count if n else 0):
            index = rr(n)
            contact_id, born, owner = targets[index]
            lo = max(born, year_lo)
            at = lo + rr(anchor_s - 1 - lo)
            kind = self.kinds.pick(r())
            subject = body = data = event = value = due = done = null
            if kind in ("email_sent", "email_opened", "email_clicked"):
                subject = CAMPAIGNS[rr(len(CAMPAIGNS))]
                if kind == "email_clicked":
                    data = json.dumps({"url": "https://www.example.com/pricing"})
            elif kind == "email_received":
                subject = REPLIES[rr(len(REPLIES))]
            elif kind == "call":
                subject = CALLS[rr(len(CALLS))]
                data = json.dumps({"duration_s": 60 + rr(1800)})
            elif kind == "meeting":
                subject = MEETINGS[rr(len(MEETINGS))]
            elif kind == "note":
                body = NOTES[rr(len(NOTES))]
            elif kind == "task":
                subject = TASKS[rr(len(TASKS))]
                due = clock(at + 86400 * (1 + rr(7)))
                if r() < 0.6:
                    done = clock(at + 3600 * (1 + rr(48)))
            elif kind == "form_submit":
                subject = FORMS[rr(len(FORMS))]
                data = json.dumps({"form": subject, "page": "/pricing"})
            else:
                event = "purchase"
                subject, price = PRODUCTS[rr(len(PRODUCTS))]
                value = round(price * (1 + rr(5)), 2)
                data = json.dumps({"order": f"SO-{rr(10**6):06d}", "currency": "EUR"})
            when = clock(at)
            user = owner if kind in USER_KINDS and owner is not None else null
            rows.append(
                [contact_id, user, kind, subject, body, data, event, value,
                 ACTIVITY_SOURCE[kind], when, due, done, when]
            )  # fmt: skip
            seen = last.setdefault(index, [-1, -1])
            if at > seen[0]:
                seen[0] = at
            if kind in CONTACTING_KINDS and at > seen[1]:
                seen[1] = at
        return rows, last


@dataclass
class _Chunk:
    """Rows of one step of the load, ready for the writers."""

    contacts: list = field(default_factory=list)
    companies: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    values: list = field(default_factory=list)
    activities: list = field(default_factory=list)
    done: int = 0


def _chunks(gen: _Generator, plan: _Plan, writers: dict[str, _Writer]) -> Iterator[_Chunk]:
    """Every row of the run, chunk by chunk (companies first), shaped for the writers.
    Runs in the parent or in a child process: the same draws in the same order either way."""
    if plan.companies:
        companies = gen.company_rows(plan.companies, plan.first_company_id)
        yield _Chunk(companies=writers["companies"].shaped(companies))
    clock, null = gen.clock, gen.null
    done = 0
    n, m = plan.contacts, plan.activities
    while done < n:
        size = min(CHUNK, n - done)
        first_id = plan.first_contact_id + done
        created = gen.created_seconds(n, size)
        rows, tags, values = gen.contacts(plan, first_id, created, timeline=bool(m))
        activities: list = []
        if m:
            share = m * (done + size) // n - m * done // n
            targets = [
                (row[0], created[k], None if row[_OWNER] == null else row[_OWNER])
                for k, row in enumerate(rows)
            ]
            activities, last = gen.activities(targets, share)
            for k, (act, con) in last.items():
                rows[k][_LAST_ACTIVITY] = clock(act)
                if con >= 0:
                    rows[k][_LAST_CONTACTED] = clock(con)
        done += size
        yield _Chunk(
            contacts=writers["contacts"].shaped(rows),
            tags=writers["tags"].shaped(tags),
            values=writers["values"].shaped(values),
            activities=writers["activities"].shaped(activities),
            done=done,
        )


# --------------------------------------------------------------------------- writing


class _Writer:
    """Writes rows of one table through a Core insert compiled once and run with
    executemany. On SQLite a nullable column's value goes through NULLIF(?, ''), so rows
    carry '' for NULL: binding None costs pysqlite an adapter lookup per value.
    On PostgreSQL rows go through COPY (several times faster than executemany)."""

    def __init__(self, conn: Connection, table, columns: Sequence[str]):
        self.conn = conn
        self.columns = list(columns)
        sqlite = conn.dialect.name == "sqlite"
        self.null: Any = "" if sqlite else None
        self.copy_sql: str | None = None
        if conn.dialect.name == "postgresql":
            quote = conn.dialect.identifier_preparer.quote
            names = ", ".join(quote(c) for c in self.columns)
            self.copy_sql = f"COPY {quote(table.name)} ({names}) FROM STDIN"
        values = {}
        for name in self.columns:
            column = table.c[name]
            param = bindparam(name, type_=column.type)
            values[name] = (
                func.nullif(param, literal_column("''")) if sqlite and column.nullable else param
            )
        compiled = insert(table).values(values).compile(dialect=conn.dialect)
        self.sql = compiled.string
        order = list(compiled.positiontup or [])
        self.shape: Callable[[Sequence], Any]
        if order and order != self.columns:
            self.shape = itemgetter(*(self.columns.index(name) for name in order))
        elif order:
            self.shape = tuple
        else:  # named paramstyle (psycopg)
            names = self.columns
            self.shape = lambda row: dict(zip(names, row, strict=True))
        self.count = 0

    def shaped(self, rows: Sequence[Sequence[Any]]) -> list:
        """Rows as the driver takes them (tuples in the statement's order, or as given
        for COPY)."""
        if self.copy_sql is not None:
            return list(rows)
        return list(map(self.shape, rows))

    def write(self, rows: list) -> None:
        """Insert rows made by shaped()."""
        if not rows:
            return
        if self.copy_sql is not None:
            cursor = self.conn.connection.driver_connection.cursor()
            with cursor.copy(self.copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            self.conn.exec_driver_sql(self.sql, rows)
        self.count += len(rows)


@contextmanager
def _bulk_transaction(big_first_load: bool) -> Iterator[Connection]:
    """One transaction around the whole load, DDL included (SQLAlchemy opens SQLite
    transactions itself), so dropped triggers and indexes come back on failure.

    On SQLite, foreign keys are not checked while it lasts (the generator only refers to
    rows that exist; tests run PRAGMA foreign_key_check) and the page cache is bigger.
    A big first load into an empty database also leaves WAL mode for a rollback journal
    while it runs, when no other connection is open: a WAL would write every page twice.
    """
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        back_to_wal = False
        if raw is not None:  # before BEGIN: these cannot change inside a transaction
            if big_first_load and raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                back_to_wal = _set_journal_mode(raw, "DELETE")
            raw.execute("PRAGMA foreign_keys=OFF")
            raw.execute("PRAGMA cache_size=-262144")
        try:
            with conn.begin():
                yield conn
        finally:
            if raw is not None:
                if back_to_wal:  # else the next connection opened sets WAL again
                    _set_journal_mode(raw, "WAL")
                raw.execute("PRAGMA foreign_keys=ON")
                raw.execute("PRAGMA cache_size=-65536")


def _set_journal_mode(raw: Any, mode: str) -> bool:
    """Switch an SQLite connection's journal mode without waiting; False when another
    connection keeps the database busy (the mode is then unchanged)."""
    timeout = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    raw.execute("PRAGMA busy_timeout=0")
    try:
        return raw.execute(f"PRAGMA journal_mode={mode}").fetchone()[0] == mode.lower()
    except sqlite3.OperationalError:
        return False
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(timeout)}")


def _schema_objects(conn: Connection, kind: str, tables: Sequence[str]) -> list[tuple[str, str]]:
    """(name, CREATE statement) of SQLite triggers or explicit indexes on `tables`; on
    PostgreSQL, of the indexes that back no constraint (primary keys, unique emails and
    external ids stay)."""
    marks = ", ".join(f"'{t}'" for t in tables)
    if conn.dialect.name == "postgresql":
        return [
            (row[0], row[1])
            for row in conn.exec_driver_sql(
                "SELECT i.relname, pg_get_indexdef(ix.indexrelid) FROM pg_index ix "
                "JOIN pg_class i ON i.oid = ix.indexrelid "
                "JOIN pg_class t ON t.oid = ix.indrelid "
                f"WHERE t.relname IN ({marks}) AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid) "
                "ORDER BY i.relname"
            )
        ]
    return [
        (row[0], row[1])
        for row in conn.exec_driver_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = '{kind}' "
            f"AND tbl_name IN ({marks}) AND sql IS NOT NULL ORDER BY name"
        )
    ]


def _ensure_tags(conn: Connection) -> tuple[int, ...]:
    """The ids of the seed's tags, created when missing (matched by key)."""
    table = Tag.__table__
    existing = dict(conn.execute(select(table.c.key, table.c.id)).all())
    for name, color, _ in TAGS:
        if name.casefold() not in existing:
            conn.execute(
                insert(table).values(
                    name=name, key=name.casefold(), color=color, created_at=utcnow()
                )
            )
    existing = dict(conn.execute(select(table.c.key, table.c.id)).all())
    return tuple(existing[name.casefold()] for name, _, _ in TAGS)


def _ensure_custom_fields(conn: Connection) -> dict[str, tuple[int, int]]:
    """Field name -> (id, value slot) of the seed's custom fields, created when missing;
    a field of the same name but another type is left alone and gets no values."""
    table = CustomField.__table__
    rows = {r.name: r for r in conn.execute(select(table.c.id, table.c.name, table.c.type))}
    position = conn.execute(select(func.coalesce(func.max(table.c.position), -1))).scalar_one()
    for name, label, type_, options in CUSTOM_FIELDS:
        if name not in rows:
            position += 1
            conn.execute(
                insert(table).values(
                    name=name,
                    label=label,
                    type=type_,
                    options=options,
                    position=position,
                    created_at=utcnow(),
                )
            )
    rows = {r.name: r for r in conn.execute(select(table.c.id, table.c.name, table.c.type))}
    return {
        name: (rows[name].id, _VALUE_SLOT[type_])
        for name, _, type_, _ in CUSTOM_FIELDS
        if rows[name].type == type_
    }


def _max_id(conn: Connection, table) -> int:
    return conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()


def _contact_limit_room(n: int) -> int:
    """n, or fewer when KONTOR_CONTACT_LIMIT leaves less room (said on stderr)."""
    limit = current_app.config.get("CONTACT_LIMIT")
    if limit is None:
        return n
    have = db.session.scalar(select(func.count()).select_from(Contact)) or 0
    room = max(0, limit - have)
    if room < n:
        print(f"Contact limit {limit}: seeding {room} contacts instead of {n}.", file=sys.stderr)
    return min(n, room)


def seed(
    contacts: int = 1000,
    activities: int = 0,
    seed: int = 1,
    progress: bool = False,
    *,
    now: datetime | None = None,
    deals: int | None = None,
) -> dict[str, Any]:
    """Add `contacts` realistic contacts (with companies, tags and custom values) and
    `activities` timeline entries; deterministic for a given seed in a fresh database.
    `deals` demo deals too (app.pipeline.demo); by default one per five new contacts,
    at most 60, and only while the database has no deal.

    On a database that has contacts already, the new ones are appended with emails
    that collide with none. With contacts=0, the activities go to existing contacts.
    Dates lead up to `now` (default: today, midnight UTC). Returns the counts and
    the time taken: {"contacts", "companies", "activities", "seconds"}.
    """
    began = time.perf_counter()
    db.session.commit()  # the load runs on its own connection; nothing may be pending
    contacts = _contact_limit_room(max(0, contacts))
    activities = max(0, activities)
    anchor = (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived rows: the cyclic collector only slows them down
    big_first_load = contacts >= BULK_MIN and not db.session.scalar(select(Contact.id).limit(1))
    db.session.commit()
    if big_first_load:
        db.engine.dispose()  # idle pooled connections would keep SQLite in WAL mode
    try:
        with _bulk_transaction(big_first_load) as conn:
            counts = _load(conn, contacts, activities, seed, anchor, progress, began)
    finally:
        if gc_was_enabled:
            gc.enable()
    counts["deals"] = _demo_deals(deals, counts["contacts"], seed, anchor)
    audit.record("seed", "contact", None, {**counts, "seed": seed}, via="cli")
    db.session.commit()
    counts["seconds"] = round(time.perf_counter() - began, 2)
    _emit(progress, f"seed: done in {counts['seconds']} s")
    return counts


def _demo_deals(deals: int | None, contacts: int, seed_value: int, anchor: datetime) -> int:
    from app.pipeline.demo import seed_deals
    from app.pipeline.models import Deal

    if deals is None:
        if db.session.scalar(select(Deal.id).limit(1)) is not None:
            return 0
        deals = min(contacts // 5, 60)
    return seed_deals(deals, seed=seed_value, now=anchor)


def _load(
    conn: Connection,
    n_contacts: int,
    n_activities: int,
    seed_value: int,
    anchor: datetime,
    progress: bool,
    began: float,
) -> dict[str, Any]:
    sqlite = conn.dialect.name == "sqlite"
    contacts_t, companies_t = Contact.__table__, Company.__table__

    def say(message: str) -> None:
        _emit(progress, f"seed: {message} ({time.perf_counter() - began:.1f} s)")

    if not sqlite:  # ids are chosen here: keep other writers out until the commit
        conn.exec_driver_sql("LOCK TABLE contacts, companies IN SHARE ROW EXCLUSIVE MODE")
    max_contact = _max_id(conn, contacts_t)
    have = conn.execute(select(func.count()).select_from(contacts_t)).scalar_one()
    owners = list(
        conn.execute(select(User.id).where(User.active.is_(True)).order_by(User.id)).scalars()
    )
    used_emails: set[str] = (
        set(conn.execute(select(contacts_t.c.email)).scalars()) if have else set()
    )
    used_domains = {d for d in conn.execute(select(companies_t.c.domain)).scalars() if d}
    plan = _Plan(
        contacts=n_contacts,
        activities=n_activities if n_contacts else 0,
        companies=-(-n_contacts // COMPANY_EVERY),
        first_contact_id=max_contact + 1,
        first_company_id=_max_id(conn, companies_t) + 1,
        tag_ids=_ensure_tags(conn),
        fields=_ensure_custom_fields(conn),
    )
    writers = {
        "contacts": _Writer(conn, contacts_t, CONTACT_COLUMNS),
        "companies": _Writer(conn, companies_t, COMPANY_COLUMNS),
        "tags": _Writer(conn, ContactTag.__table__, TAG_COLUMNS),
        "values": _Writer(conn, CustomFieldValue.__table__, VALUE_COLUMNS),
        "activities": _Writer(conn, Activity.__table__, ACTIVITY_COLUMNS),
    }
    gen = _Generator(
        f"kontor-seed-{seed_value}-{max_contact}",
        anchor,
        owners,
        used_emails,
        used_domains,
        null=writers["contacts"].null,
    )

    triggers: list[tuple[str, str]] = []
    indexes: list[tuple[str, str]] = []
    big = n_contacts >= BULK_MIN and n_contacts > have
    tables = ["contacts", "contact_tags", "custom_field_values", "activities"]
    if not sqlite and big:
        # Indexes built once at the end are several times cheaper than kept up per row.
        indexes = _schema_objects(conn, "index", tables)
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    if sqlite and n_contacts:
        # Bulk path: no per-row FTS trigger (the index is filled per chunk below) and,
        # for a big load into a smaller table, indexes built once at the end.
        triggers = _schema_objects(conn, "trigger", ["contacts"])
        for name, _ in triggers:
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        if big:
            indexes = _schema_objects(conn, "index", tables)
            for name, _ in indexes:
                conn.exec_driver_sql(f'DROP INDEX "{name}"')
    fts_fill = text(
        "INSERT INTO contacts_fts(rowid, search_text) "
        "SELECT id, search_text FROM contacts WHERE id BETWEEN :lo AND :hi"
    )
    automerge = None
    if triggers and indexes:  # a first big load: merge the search index once, at the end
        automerge = conn.exec_driver_sql(
            "SELECT v FROM contacts_fts_config WHERE k = 'automerge'"
        ).scalar()
        conn.exec_driver_sql("INSERT INTO contacts_fts(contacts_fts, rank) VALUES('automerge', 0)")

    def make() -> Iterator[_Chunk]:
        return _chunks(gen, plan, writers)

    parallel = n_contacts >= PARALLEL_MIN and can_fork()
    analyzed = have
    for chunk in in_child(make, "seed data generator") if parallel else make():
        if chunk.companies:
            writers["companies"].write(chunk.companies)
            if not sqlite:
                conn.exec_driver_sql("ANALYZE companies")
        if chunk.contacts:
            writers["contacts"].write(chunk.contacts)
            hi = plan.first_contact_id + chunk.done - 1
            if triggers:
                conn.execute(fts_fill, {"lo": hi - len(chunk.contacts) + 1, "hi": hi})
            if not sqlite and have + chunk.done >= 2 * analyzed:
                # PostgreSQL plans the foreign key checks of the rows below from the
                # table's statistics: stale ones (an empty table) mean a scan per row.
                conn.exec_driver_sql("ANALYZE contacts")
                analyzed = have + chunk.done
            writers["tags"].write(chunk.tags)
            writers["values"].write(chunk.values)
            writers["activities"].write(chunk.activities)
            say(f"{chunk.done:,}/{n_contacts:,} contacts")

    if n_activities and not n_contacts:
        _activities_for_existing(conn, gen, writers["activities"], n_activities)
    if indexes:
        say(f"building {len(indexes)} indexes")
        if not sqlite:
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        for _, sql in indexes:
            conn.exec_driver_sql(sql)
    for _, sql in triggers:
        conn.exec_driver_sql(sql)
    if triggers and indexes:
        say("merging the search index")
        conn.exec_driver_sql("INSERT INTO contacts_fts(contacts_fts) VALUES('optimize')")
        conn.execute(
            text("INSERT INTO contacts_fts(contacts_fts, rank) VALUES('automerge', :n)"),
            {"n": 4 if automerge is None else int(automerge)},  # 4: FTS5's default
        )
    if not sqlite:
        for table in ("contacts", "companies"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
    if indexes:
        # Statistics for the query planner. A full ANALYZE (about 2 s per million contacts):
        # sampled statistics (PRAGMA analysis_limit) misjudge low-cardinality columns such
        # as status and make SQLite sort whole tables instead of walking the sort index.
        say("analyze")
        conn.exec_driver_sql("ANALYZE")
    say("commit")
    return {
        "contacts": writers["contacts"].count,
        "companies": writers["companies"].count,
        "activities": writers["activities"].count,
    }


def _activities_for_existing(conn: Connection, gen: _Generator, writer: _Writer, n: int) -> None:
    """Spread n activities over existing contacts and move their last_* dates forward."""
    t = Contact.__table__
    existing = conn.execute(select(t.c.id, t.c.created_at, t.c.owner_id).order_by(t.c.id)).all()
    if not existing:
        return
    start = gen.start
    targets = [
        (cid, max(0, int((created - start).total_seconds())), owner)
        for cid, created, owner in existing
    ]
    rows, last = gen.activities(targets, n)
    writer.write(writer.shaped(rows))

    def later(column, param: str):
        value = bindparam(param, type_=column.type)
        return case(
            (value.is_(None), column),
            (or_(column.is_(None), column < value), value),
            else_=column,
        )

    stmt = (
        t.update()
        .where(t.c.id == bindparam("cid"))
        .values(
            last_activity_at=later(t.c.last_activity_at, "act"),
            last_contacted_at=later(t.c.last_contacted_at, "con"),
        )
    )
    updates = [
        {
            "cid": targets[index][0],
            "act": start + timedelta(seconds=act),
            "con": start + timedelta(seconds=con) if con >= 0 else None,
        }
        for index, (act, con) in last.items()
    ]
    for i in range(0, len(updates), CHUNK):
        conn.execute(stmt, updates[i : i + CHUNK])
