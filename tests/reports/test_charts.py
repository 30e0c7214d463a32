"""The SVG helper: readable axes, escaped text, accessible names."""

import pytest

from reports.charts import Series, bar_chart, nice_ceiling


@pytest.mark.parametrize(
    ("value", "top", "step"), [(0, 1, 0.25), (7, 8, 2), (10, 10, 2.5), (93, 100, 25), (1234, 1500, 500)]
)
def test_the_axis_ends_on_a_round_number(value, top, step):
    assert nice_ceiling(value) == (top, step)


def test_a_chart_names_itself_and_every_bar_and_escapes_text():
    svg = bar_chart(
        slug="x",
        title="Costs <per> day",
        description="two days",
        x_labels=["01 Jan", "02 Jan"],
        series=[Series("A & B", "#123456", [1, 0]), Series("C", "#654321", [2, 3])],
        x_label="Day",
        y_label="Things",
    )
    assert svg.startswith('<svg class="chart"') and 'role="img"' in svg
    assert '<title id="chart-x-title">Costs &lt;per&gt; day</title>' in svg
    assert "<title>01 Jan · A &amp; B: 1</title>" in svg
    assert "<title>02 Jan · C: 3</title>" in svg
    assert "02 Jan · A &amp; B" not in svg  # a zero draws no bar
    assert ">Day</text>" in svg and ">Things</text>" in svg
    assert "style=" not in svg


def test_an_empty_period_says_so():
    svg = bar_chart(slug="e", title="t", description="d", x_labels=[], series=[], x_label="x", y_label="y")
    assert "Nothing in this period" in svg
