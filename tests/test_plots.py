"""Polar maps draw offline, put data where the grid says, keep colour scales honest and save atomically."""

from __future__ import annotations

import socket
from pathlib import Path

import cartopy
import cartopy.crs as ccrs
import cartopy.feature as cfeature
import matplotlib.pyplot as plt
import numpy as np
import pyproj
import pytest
import xarray as xr
from cartopy.mpl.geoaxes import GeoAxes

from icegrad import grid, plots
from icegrad.data.land import land_mask
from icegrad.data.schema import month_starts
from icegrad.paths import data_dir
from icegrad.roi import region_of_interest

RES = 200


@pytest.fixture(autouse=True)
def _close_figures() -> None:
    yield
    plt.close("all")


def field(res: int = RES) -> xr.DataArray:
    """A SYNTHETIC SIC-like field: ice north of 75 N, NaN on land."""
    g = grid.ease2_grid(res)
    values = np.clip((g.lat.values - 65.0) / 10.0, 0.0, 1.0)
    da = xr.DataArray(values, coords=g.coords, dims=("y", "x"), name="siconca",
                      attrs={"units": "1", "long_name": "sea ice area fraction"})
    return da.where(~land_mask(res).values)


def dataset(target_gain: float = 0.6) -> xr.Dataset:
    """SYNTHETIC monthly SIC for 2007-2013 in the dataset schema; September 2013 gains ice near 75-80 N."""
    sic_map = field()
    times = month_starts("2007-01", "2013-12")
    sic = np.repeat(sic_map.values[None].astype("float32") * 0.5, len(times), axis=0)
    t = times.get_loc("2013-09-01")
    band = (sic_map.lat.values > 75) & (sic_map.lat.values < 80) & np.isfinite(sic_map.values)
    sic[t][band] += target_gain
    land = land_mask(RES)
    attrs = {"units": "1", "long_name": "sea ice area fraction", "standard_name": "sea_ice_area_fraction"}
    return xr.Dataset(
        {"siconca": (("time", "y", "x"), np.clip(sic, 0, 1), attrs)},
        coords={**grid.ease2_grid(RES).coords, "time": times, "land": land.drop_vars(list(land.coords))},
        attrs={"data_source": "emulated", "source": "synthetic test data", "title": "test",
               "Conventions": "CF-1.8", "resolution_km": RES},
    )


def test_cartopy_reads_the_embedded_natural_earth() -> None:
    assert Path(cartopy.config["pre_existing_data_dir"]) == data_dir() / "natural_earth"


@pytest.mark.parametrize("scale", plots.EMBEDDED_SCALES)
def test_maps_draw_land_and_coastline_without_network(scale: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("a download was attempted")

    # Every way cartopy (or anything else) could fetch a file: its downloaders and name resolution.
    for downloader in {type(d) for d in cartopy.config["downloaders"].values()} | {cartopy.io.Downloader}:
        monkeypatch.setattr(downloader, "acquire_resource", no_network)
        monkeypatch.setattr(downloader, "_urlopen", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    # An empty download folder: only the embedded copy can satisfy cartopy.
    monkeypatch.setitem(cartopy.config, "data_dir", tmp_path / "empty")
    land = cfeature.NaturalEarthFeature("physical", "land", scale)
    assert len(list(land.geometries())) > 50
    fig, axes = plots.polar_axes(1, 1)
    plots.polar_map(axes[0], field(), scale=scale, **plots.sic_style())
    out = plots.save_figure(fig, tmp_path / "map.png")
    assert out.stat().st_size > 5_000
    assert not (tmp_path / "empty").exists()


def test_unembedded_scale_is_refused_with_the_alternatives() -> None:
    _fig, axes = plots.polar_axes()
    with pytest.raises(plots.PlotError, match="'10m' is not embedded"):
        plots.polar_map(axes[0], field(), scale="10m")


def test_ease2_crs_is_epsg_6931() -> None:
    lon = np.array([0.0, 45.0, 135.0, -100.0, 179.0])
    lat = np.array([89.0, 75.0, 60.0, 50.0, 40.0])
    expected = pyproj.Transformer.from_crs(4326, 6931, always_xy=True).transform(lon, lat)
    got = plots.ease2_crs().transform_points(cartopy.crs.PlateCarree(), lon, lat)
    np.testing.assert_allclose(got[:, 0], expected[0], atol=0.01)
    np.testing.assert_allclose(got[:, 1], expected[1], atol=0.01)


def test_polar_axes_layout_and_extent() -> None:
    _fig, axes = plots.polar_axes(2, 3, min_lat=60.0)
    assert axes.shape == (6,) and all(isinstance(ax, GeoAxes) for ax in axes)
    x, y = axes[0].projection.transform_point(30.0, 60.0, cartopy.crs.PlateCarree())
    x0, x1, y0, y1 = axes[0].get_extent()
    assert x0 == pytest.approx(-x1) and y0 == pytest.approx(-y1)
    assert x1 == pytest.approx(np.hypot(x, y), rel=1e-9)
    with pytest.raises(plots.PlotError, match="min_lat"):
        plots.polar_axes(min_lat=95.0)
    with pytest.raises(plots.PlotError, match="at least one row"):
        plots.polar_axes(0, 1)


def test_polar_map_draws_every_cell_in_grid_order() -> None:
    _fig, axes = plots.polar_axes()
    da = field()
    mesh = plots.polar_map(axes[0], da, **plots.sic_style())
    drawn = np.ma.masked_invalid(mesh.get_array()).reshape(da.shape)
    np.testing.assert_array_equal(drawn.mask, np.isnan(da.values))
    np.testing.assert_allclose(drawn.compressed(), da.values[np.isfinite(da.values)])
    assert mesh.get_clim() == (0.0, 1.0)


def test_polar_map_squeezes_single_times_and_rejects_stacks() -> None:
    _fig, axes = plots.polar_axes()
    stack = xr.concat([field(), field()], dim="time")
    plots.polar_map(axes[0], stack.isel(time=[0]))
    with pytest.raises(plots.PlotError, match=r"also has dims \['time'\]"):
        plots.polar_map(axes[0], stack)
    with pytest.raises(plots.PlotError, match="regrid it to EASE2"):
        plots.polar_map(axes[0], xr.DataArray(np.zeros((10, 10)), dims=("y", "x")))


def test_cells_are_drawn_as_the_squares_they_are_on_the_grid() -> None:
    _fig, axes = plots.polar_axes()
    assert axes[0].projection == plots.ease2_crs()
    mesh = plots.polar_map(axes[0], field(), **plots.sic_style())
    corners = mesh.get_coordinates()  # cell corners in the map's projected metres
    x, y = corners[..., 0], corners[..., 1]
    np.testing.assert_allclose(x, np.broadcast_to(x[:1, :], x.shape))  # columns are vertical lines
    np.testing.assert_allclose(y, np.broadcast_to(y[:, :1], y.shape))  # rows are horizontal lines
    np.testing.assert_allclose(np.abs(np.diff(x[0])), RES * 1000.0)
    np.testing.assert_allclose(np.abs(np.diff(y[:, 0])), RES * 1000.0)


def test_maps_have_latitude_and_longitude_lines_once() -> None:
    _fig, axes = plots.polar_axes(1, 2)
    mask = field().fillna(0) > 0.5
    plots.polar_map(axes[0], field())
    plots.roi_fill(axes[0], mask)  # a second field on the same map adds no second set of lines
    plots.polar_map(axes[1], field(), gridlines=False)
    assert len(plots.basemap.gridliners(axes[0])) == 1 and not plots.basemap.gridliners(axes[1])
    (lines,) = plots.basemap.gridliners(axes[0])
    paths = lines.get_paths()
    assert len(paths) == len(plots.basemap.GRID_LATITUDES) + 8
    # Each circle lies on its latitude and each meridian on its longitude, back in geographic coordinates.
    geodetic = ccrs.PlateCarree()
    for path, lat in zip(paths, plots.basemap.GRID_LATITUDES, strict=False):
        lonlat = geodetic.transform_points(axes[0].projection, path.vertices[:, 0], path.vertices[:, 1])
        np.testing.assert_allclose(lonlat[:, 1], lat, atol=1e-6)
    for path, lon in zip(paths[3:], plots.basemap.GRID_LONGITUDES, strict=True):
        x, y = path.vertices[1:].T  # the pole's longitude is undefined
        lonlat = geodetic.transform_points(axes[0].projection, x, y)
        np.testing.assert_allclose((lonlat[:, 0] - lon + 180.0) % 360.0 - 180.0, 0.0, atol=1e-6)
    # Off a pole-centred map the lines are cartopy's, reprojected.
    other = plt.figure().add_subplot(projection=ccrs.PlateCarree())
    plots.basemap.add_gridlines(other)
    plots.basemap.add_gridlines(other)
    assert not plots.basemap.pole_centred(other.projection) and len(plots.basemap.gridliners(other)) == 1
    assert plots.basemap.pole_centred(plots.basemap.map_crs(45.0))


def test_colourbars_name_their_power_of_ten_in_the_label() -> None:
    assert plots.styles.scaled_label("attribution (probability)", -4) == "attribution (×10⁻⁴ probability)"
    assert plots.styles.scaled_label("attribution", 12) == "attribution (×10¹²)"
    assert [plots.styles.tick_exponent(v) for v in (3e-4, 0.05, 999.0, 2e4, 0.0)] == [-4, 0, 0, 4, 0]
    fig, axes = plots.polar_axes(1, 1)
    mesh = plots.polar_map(axes[0], field() * 3e5, cmap="viridis")
    bar = plots.shared_colorbar(fig, mesh, axes, "pressure (Pa)")
    fig.canvas.draw()
    assert bar.ax.get_xlabel() == "pressure (×10⁵ Pa)" and bar.ax.xaxis.get_offset_text().get_text() == ""
    assert {t.get_text() for t in bar.ax.get_xticklabels()} >= {"0", "1", "2", "3"}


@pytest.mark.parametrize(("value", "largest", "text"), [
    (-2e-24, 0.01, "0"), (2e-9, 0.01, "0"), (-0.00123, 0.01, "\N{MINUS SIGN}0.0012"), (0.5, 0.5, "0.5"),
    (3e-7, 0.1, "3e-07"), (float("nan"), 1.0, "nan")])
def test_figure_numbers_print_rounding_noise_as_zero(value: float, largest: float, text: str) -> None:
    assert plots.figure_number(value, largest) == text


def test_provenance_stamps_emulated_figures_only() -> None:
    fig, _ax = plt.subplots()
    fig.suptitle("Lead 1")
    source = plots.data_source_of(xr.Dataset(attrs={"data_source": "emulated"}))
    assert plots.stamp_source(fig, source).get_suptitle() == "Lead 1\n" + plots.source_label("emulated")
    assert "EMULATED" in fig.get_suptitle()
    real, _ax = plt.subplots()
    assert plots.stamp_source(real, "nsidc").get_suptitle() == "NSIDC CDR (observed)"
    unknown, _ax = plt.subplots()
    nothing_known = plots.data_source_of({"data_source": "unknown"}, {})
    assert nothing_known is None and plots.stamp_source(unknown, nothing_known).get_suptitle() == ""


def test_diverging_limits_are_symmetric() -> None:
    da = xr.DataArray(np.array([[-0.2, 0.1], [np.nan, 0.05]]))
    style = plots.diverging_style(da)
    assert style["vmin"] == -0.2 and style["vmax"] == 0.2 and style["cmap"] is plots.DIVERGING_CMAP
    assert plots.symmetric_limit(da, quantile=0.5) == pytest.approx(0.1)
    assert plots.symmetric_limit(xr.zeros_like(da)) == 1.0


def test_shared_colorbar_and_labels() -> None:
    fig, axes = plots.polar_axes(1, 2)
    mesh = plots.polar_map(axes[0], field(), **plots.sic_style())
    bar = plots.shared_colorbar(fig, mesh, axes, plots.label_of(field()))
    assert bar.ax.get_xlabel() == "sea ice area fraction"
    assert plots.label_of(xr.DataArray(0.0, attrs={"long_name": "air temperature", "units": "K"})) == \
        "air temperature (K)"


def test_roi_outline_and_fill_need_a_boolean_mask() -> None:
    _fig, axes = plots.polar_axes()
    mask = field().fillna(0) > 0.5
    contour = plots.roi_outline(axes[0], mask)
    assert sum(len(p.vertices) for p in contour.get_paths()) > 10
    mesh = plots.roi_fill(axes[0], mask)
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(mask.shape), mask.values.astype(float))
    with pytest.raises(plots.PlotError, match="must be boolean"):
        plots.roi_outline(axes[0], field())


def test_save_figure_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fig, _ax = plt.subplots()
    target = tmp_path / "out" / "figure.png"
    plots.save_figure(fig, target)
    before = target.read_bytes()
    assert before[:8] == b"\x89PNG\r\n\x1a\n"

    def half_written(path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", half_written)
    with pytest.raises(RuntimeError, match="disk full"):
        plots.save_figure(fig, target)
    assert target.read_bytes() == before  # the old figure is intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["figure.png"]  # no temp file left
    with pytest.raises(plots.PlotError, match="image format"):
        plots.save_figure(fig, tmp_path / "figure.xyz")


def test_year_series_marks_years_and_refuses_missing_ones() -> None:
    times = month_starts("2000-01", "2004-12")
    series = xr.DataArray(np.arange(len(times), dtype=float), coords={"time": times}, dims="time",
                          attrs={"units": "1e6 km2", "long_name": "sea ice extent"})
    _fig, ax = plt.subplots()
    markers = plots.year_series_plot(ax, series, [2001, 2003], month=9)
    assert [m.get_label() for m in markers] == ["2001: 20.00", "2003: 44.00"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [2000, 2001, 2002, 2003, 2004])
    with pytest.raises(plots.PlotError, match=r"\[2012\] to mark are not in the series"):
        plots.year_series_plot(ax, series, [2012], month=9)
    with pytest.raises(plots.PlotError, match="several values per year"):
        plots.year_series_plot(ax, series, [])


def test_figure1_has_three_map_panels_for_the_roi_years(tmp_path: Path) -> None:
    ds = dataset()
    roi = region_of_interest(ds, 2007, 2013, 9, "threshold:0.5")
    fig = plots.figure1(ds, roi, scale="110m")
    assert plots.save_figure(fig, tmp_path / "figure1.png").stat().st_size > 20_000
    maps = [ax for ax in fig.axes if isinstance(ax, GeoAxes)]
    assert len(maps) == 3 and len(fig.axes) == 4  # three maps and the shared SIC colour bar
    titles = [ax.get_title() for ax in maps]
    assert titles == ["(a) SIC September 2007", "(b) SIC September 2013", "(c) ROI: threshold:0.5"]
    assert "EMULATED" in fig.get_suptitle()
    caption = plots.figure1_caption(roi, "emulated")
    assert "threshold:0.5" in caption and "EMULATED" in caption and f"{roi.attrs['n_cells']} cells" in caption
    assert "observed data (osisaf)" in plots.figure1_caption(roi, "osisaf")


def test_figure1_follows_the_roi_and_needs_its_attributes() -> None:
    ds = dataset()
    roi = region_of_interest(ds, 2013, 2010, 9, "threshold:0.5,sign:negative")
    fig = plots.figure1(ds, roi, scale="110m")
    assert fig.axes[0].get_title() == "(a) SIC September 2013"
    assert fig.axes[1].get_title() == "(b) SIC September 2010"
    with pytest.raises(plots.PlotError, match="lacks attribute"):
        plots.figure1(ds, roi.copy().assign_attrs(rule=None).drop_attrs())


def test_extent_panel_marks_the_case_years() -> None:
    fig = plots.extent_panel(dataset(), 9, [2007, 2013])
    (ax,) = fig.axes
    assert next(t.get_text() for t in ax.get_legend().get_texts()).startswith("2007: ")
    assert len(ax.lines) == 3
    with pytest.raises(plots.PlotError, match=r"\[2030\] to mark"):
        plots.extent_panel(dataset(), 9, [2012, 2030])
