"""One catalogue per product: archive URLs, file names, variables, DOIs and citations.

Sea ice (NSIDC CDR, OSI SAF, the Sea Ice Index) and the ERA5 datasets of the Copernicus Climate Data
Store.

Readers, downloaders, the embedded record and the book take these facts from here, so a product
update (a new CDR version, a new OSI SAF release) is one edit. Every entry names where it was
checked:

* NOAA/NSIDC CDR G02202: the user guides of versions 3-6 (https://nsidc.org/data/g02202) and
  NSIDC's own production code for v5/v6, ``nsidc/seaice_ecdr`` (``intermediate_monthly.py``:
  monthly root variables ``cdr_seaice_conc_monthly`` (uint8, scale 0.01, ``_FillValue`` 255, values
  below 10 % set to 0), ``cdr_seaice_conc_monthly_stdev``, ``cdr_seaice_conc_monthly_qa_flag``;
  ``publish_monthly.py``: group ``cdr_supplementary`` with ``surface_type_mask`` and
  ``cdr_melt_onset_day_monthly``; ``publish_daily.py``: the daily group also holds the raw NASA Team
  and Bootstrap fields ``raw_nt_seaice_conc`` / ``raw_bt_seaice_conc``). File names
  ``sic_psn25_YYYYMM_<platform>_v05r00.nc`` (v5) and ``..._v06r00.nc`` (v6), archive folders
  ``G02202_V5/north/monthly/`` and ``G02202_V6/north/monthly/``.
* NSIDC Sea Ice Index G02135 version 4 (https://nsidc.org/data/g02135/versions/4): identical to
  version 3 before 2025, when its input switched to AMSR2.

DOIs and citations: v3's citation is the one NSIDC's G02202 page asks for
(https://nsidc.org/data/g02202); v4's DOI and citation as in stactools-packages/noaa-cdr
(``sea_ice_concentration/constants.py``; the v4 files themselves state
``id = https://doi.org/10.7265/sr8p-kc62``, and a reader prefers the DOI a file states); v5's DOI is
the ``id`` NSIDC's seaice_ecdr writes into v5 files (``nc_attrs.py``); v6's DOI from
stactools-packages/noaa-cdr's changelog ("Updated DOI to 10.7265/b18j-z797 ... to V6"), which also
confirms that since v5 ``surface_type_mask`` (group ``cdr_supplementary``) replaces the land flags
once embedded in the concentration. v6's variables were checked for daily files (the same package's
real v6 test file holds ``cdr_seaice_conc``, ``raw_bt_seaice_conc``, ``raw_nt_seaice_conc``, QA and
interpolation flags, ``cdr_melt_onset_day`` and ``surface_type_mask``); its monthly files are made
by the same seaice_ecdr code as v5's.

Example
-------
>>> NSIDC_CDR[5].file_pattern.fullmatch("sic_psn25_202309_F17_v05r00.nc")["month"]
'202309'
>>> [p.name for p in OSISAF[OSISAF_DEFAULT_VERSION]]
['OSI-450-a', 'OSI-430-a']
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CDRProduct:
    """One version of the NOAA/NSIDC CDR (G02202): what its monthly NH files look like and where they are."""

    version: int
    product_version: str
    variables: tuple[str, ...]
    """Concentration variables a reader may pick; the first is the CDR field icegrad uses by default."""
    file_pattern: re.Pattern[str]
    """Monthly NH file names; groups ``month`` (YYYYMM) and ``platform`` (e.g. f17 / F17)."""
    archive_url: str
    doi: str
    citation: str
    landing_page: str
    group: str | None = None
    """netCDF group holding the supplementary fields (surface-type mask), None where all are at the root."""
    nasa_team_daily: str | None = None
    """The raw NASA Team field, where it exists only in the *daily* files (v5, v6)."""


_V3_CITATION = (
    "Meier, W. N., F. Fetterer, M. Savoie, S. Mallory, R. Duerr, and J. Stroeve. 2017. NOAA/NSIDC "
    "Climate Data Record of Passive Microwave Sea Ice Concentration, Version 3. Boulder, Colorado "
    "USA. NSIDC: National Snow and Ice Data Center. doi:10.7265/N59P2ZTG")
_V4_CITATION = (
    "Meier, W. N., F. Fetterer, A. K. Windnagel, and S. Stewart. 2021. NOAA/NSIDC Climate Data "
    "Record of Passive Microwave Sea Ice Concentration, Version 4. Boulder, Colorado USA. "
    "NSIDC: National Snow and Ice Data Center. doi:10.7265/efmz-2t65")
_V5_CITATION = (
    "Meier, W. N., F. Fetterer, A. K. Windnagel, and J. S. Stewart. 2024. NOAA/NSIDC Climate Data "
    "Record of Passive Microwave Sea Ice Concentration, Version 5. Boulder, Colorado USA. "
    "NSIDC: National Snow and Ice Data Center. doi:10.7265/rjzb-pf78")
_V6_CITATION = (
    "Meier, W. N., F. Fetterer, A. K. Windnagel, and J. S. Stewart. NOAA/NSIDC Climate Data "
    "Record of Passive Microwave Sea Ice Concentration, Version 6. Boulder, Colorado USA. "
    "NSIDC: National Snow and Ice Data Center. doi:10.7265/b18j-z797")

_ARCHIVE = "https://noaadata.apps.nsidc.org/NOAA/G02202_V{v}/north/monthly/"
_V56_PATTERN = r"sic_psn25_(?P<month>\d{{6}})_(?P<platform>[A-Za-z]\w\d)_v0{v}r00\.nc"

NSIDC_CDR: dict[int, CDRProduct] = {
    3: CDRProduct(
        3, "v03r01", ("seaice_conc_monthly_cdr", "goddard_merged_seaice_conc_monthly"),
        re.compile(r"seaice_conc_monthly_nh_(?P<platform>[a-z]\d\d)_(?P<month>\d{6})_v03r01\.nc"),
        _ARCHIVE.format(v=3), "10.7265/N59P2ZTG", _V3_CITATION, "https://nsidc.org/data/g02202/versions/3"),
    4: CDRProduct(
        4, "v04r00",
        ("cdr_seaice_conc_monthly", "nsidc_nt_seaice_conc_monthly", "nsidc_bt_seaice_conc_monthly"),
        re.compile(r"seaice_conc_monthly_nh_(?P<month>\d{6})_(?P<platform>[a-z]\d\d)_v04r00\.nc"),
        _ARCHIVE.format(v=4), "10.7265/efmz-2t65", _V4_CITATION, "https://nsidc.org/data/g02202/versions/4"),
    5: CDRProduct(
        5, "v05r00", ("cdr_seaice_conc_monthly",), re.compile(_V56_PATTERN.format(v=5)),
        _ARCHIVE.format(v=5), "10.7265/rjzb-pf78", _V5_CITATION, "https://nsidc.org/data/g02202/versions/5",
        group="cdr_supplementary", nasa_team_daily="raw_nt_seaice_conc"),
    6: CDRProduct(
        6, "v06r00", ("cdr_seaice_conc_monthly",), re.compile(_V56_PATTERN.format(v=6)),
        _ARCHIVE.format(v=6), "10.7265/b18j-z797", _V6_CITATION, "https://nsidc.org/data/g02202/versions/6",
        group="cdr_supplementary", nasa_team_daily="raw_nt_seaice_conc"),
}
"""G02202 versions by number."""

NSIDC_CDR_TITLE = "NOAA/NSIDC Climate Data Record of Passive Microwave Sea Ice Concentration"
NSIDC_TERMS_OF_USE = ("NSIDC: no constraints on data access or use (the files' license attribute); cite the "
                      "data set as given in 'citation'. https://nsidc.org/data/data-use-and-citation-policy")


@dataclass(frozen=True)
class SeaIceIndex:
    """The NSIDC Sea Ice Index (G02135): the extents icegrad compares the CDR with."""

    version: int
    doi: str
    citation: str
    note: str


SEA_ICE_INDEX = SeaIceIndex(
    4, "10.7265/a98x-0f50",
    "Fetterer, F., K. Knowles, W. N. Meier, M. Savoie, A. K. Windnagel, and T. Stafford. Sea Ice Index, "
    "Version 4. Boulder, Colorado USA. NSIDC: National Snow and Ice Data Center. doi:10.7265/a98x-0f50",
    "Version 4 equals version 3 before 2025 (from 2025-01-01 its input is AMSR2); its extents come from the "
    "NASA Team algorithm, whereas the CDR takes the larger of NASA Team and Bootstrap per cell, so CDR "
    "extents are larger.",
)


@dataclass(frozen=True)
class OSIProduct:
    """One OSI SAF sea-ice concentration record: archive folder, file kind and version, coverage, DOI."""

    name: str
    title: str
    folder: str
    kind: str
    """``cdr`` (the climate data record) or ``icdr`` (its interim extension)."""
    version: str
    first: str
    last: str | None
    """Last month (``YYYY-MM``), None for an extension that is still produced."""
    doi: str

    def file_name(self, day: object) -> str:
        """The daily northern-hemisphere file of ``day`` (a pandas Timestamp)."""
        return f"ice_conc_nh_ease2-250_{self.kind}-{self.version}_{day:%Y%m%d}1200.nc"

    def url(self, base_url: str, day: object) -> str:
        return f"{base_url.rstrip('/')}/{self.folder}/{day:%Y}/{day:%m}/{self.file_name(day)}"


OSISAF_BASE_URL = "https://thredds.met.no/thredds/fileServer/osisaf/met.no/"
OSISAF: dict[str, tuple[OSIProduct, ...]] = {
    "v3p0": (
        OSIProduct("OSI-450-a", "Global sea ice concentration climate data record (SMMR/SSMI/SSMIS), "
                   "release 3 (v3.0), 1978-10 to 2020-12", "reprocessed/ice/conc/v3p0", "cdr", "v3p0",
                   "1978-10", "2020-12", "10.15770/EUM_SAF_OSI_0013"),
        OSIProduct("OSI-430-a", "Global sea ice concentration interim climate data record, release 3 (v3.0), "
                   "2021 onwards", "reprocessed/ice/conc-cont-reproc/v3p0", "icdr", "v3p0", "2021-01", None,
                   "10.15770/EUM_SAF_OSI_0014"),
    ),
    "v2p0": (
        OSIProduct("OSI-450", "Global sea ice concentration climate data record 1979-2015 (v2.0, 2017)",
                   "reprocessed/ice/conc/v2p0", "cdr", "v2p0", "1979-01", "2015-12",
                   "10.15770/EUM_SAF_OSI_0008"),
        OSIProduct("OSI-430-b", "Global sea ice concentration interim climate data record 2016-onwards "
                   "(v2.0, 2017)", "reprocessed/ice/conc-cont-reproc/v2p0", "icdr", "v2p0", "2016-01",
                   "2023-04", "10.15770/EUM_SAF_OSI_NRT_2008"),
    ),
}
"""OSI SAF records by version. v3p0 (OSI-450-a + OSI-430-a) is current and icegrad's default; v2p0
(OSI-450 + OSI-430-b), unsupported by OSI SAF since June 2023, stays selectable because IceNet was
trained on it. Sources: OSI SAF product pages (https://osi-saf.eumetsat.int/products/osi-430-a: DOI
10.15770/EUM_SAF_OSI_0014, FTP directory conc-cont-reproc/v3p0, 2021 onwards; .../osi-450 and
.../osi-430-b-complementing-osi-450 for the v2p0 DOIs and periods), the OSI-450-a description
(https://osisaf-hl.met.no/osi-450a-430a-desc: 1978-10-01 to 2020-12-31, uses ERA5). OSI-450-a's DOI
(..._0013) follows OSI SAF's numbering and was not confirmed on its product page here."""
OSISAF_DEFAULT_VERSION = "v3p0"
OSISAF_REFERENCES = {
    "v3p0": "EUMETSAT Ocean and Sea Ice Satellite Application Facility, Global sea ice concentration climate "
            "data record release 3 (v3.0), OSI-450-a, doi:10.15770/EUM_SAF_OSI_0013, and its interim "
            "extension OSI-430-a, doi:10.15770/EUM_SAF_OSI_0014",
    "v2p0": "Lavergne, T., et al. (2019), Version 2 of the EUMETSAT OSI SAF and ESA CCI sea-ice "
            "concentration climate data records, The Cryosphere 13, 49-78, doi:10.5194/tc-13-49-2019",
}


@dataclass(frozen=True)
class CDSDataset:
    """One ERA5 dataset of the Copernicus Climate Data Store: its request name and DOI."""

    name: str
    doi: str


CDS_API_URL = "https://cds.climate.copernicus.eu/api"
"""The new CDS API (the legacy CDS closed on 2024-09-26); personal access tokens have no ``UID:`` prefix."""
ERA5_SINGLE_LEVELS = CDSDataset("reanalysis-era5-single-levels-monthly-means", "10.24381/cds.f17050d7")
ERA5_PRESSURE_LEVELS = CDSDataset("reanalysis-era5-pressure-levels-monthly-means", "10.24381/cds.6860a573")
ERA5_REFERENCE = ("Hersbach, H., et al. (2020), The ERA5 global reanalysis, Q. J. R. Meteorol. Soc. 146, "
                  "1999-2049, doi:10.1002/qj.3803")
