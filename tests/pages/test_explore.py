"""Chapter 10's words: the colour key comes from the maps' colour map, the caption from the selection."""

from __future__ import annotations

from types import SimpleNamespace

from icegrad.pages import explore as page


def test_colour_key_matches_the_maps_colour_map() -> None:
    # cmocean's balance map draws positive values (more ice in the ROI) red: chapter 7 says the same.
    assert page.colour_key() == "red: evidence for more sea ice in the ROI, blue: against"


def test_still_caption_names_the_selection() -> None:
    selection = SimpleNamespace(method="integrated_gradients", target_month="2013-09", lead=3,
                                channel="siconca_abs_1")
    caption = page.still_caption(selection, "EMULATED Arctic")
    assert caption.startswith("The explorer's views for integrated gradients, the forecast of 2013-09 at "
                              "lead 3")
    assert "of siconca_abs_1, the top-ranked channel" in caption
    assert caption.endswith("Data: EMULATED Arctic.")


def test_explained_asks_for_every_month_and_method() -> None:
    asked = []

    class FakeRun:
        def explain(self, target_month: str, method: str) -> str:
            asked.append((target_month, method))
            return f"{target_month}/{method}"

    results = page.explained(FakeRun(), ["2012-09", "2013-09"], ["integrated_gradients", "vanilla_gradient"])
    assert list(results) == asked == [("2012-09", "integrated_gradients"), ("2012-09", "vanilla_gradient"),
                                      ("2013-09", "integrated_gradients"), ("2013-09", "vanilla_gradient")]
    assert results["2013-09", "vanilla_gradient"] == "2013-09/vanilla_gradient"
