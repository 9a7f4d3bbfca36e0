/**
 * A map-like scatter of listings by longitude and latitude, one colour per group (category),
 * with no tile server: plain axes, with the longitude axis shrunk by cos(latitude) so distances
 * look as on a map of Britain.
 */
import type { PlotlyFigure } from './png';

export interface MapPoint {
  lat: number;
  lng: number;
  group: string;
  /** Hover text (e.g. the title and the place). */
  label?: string;
}

/** 13 distinguishable colours (plotly's default cycle has 10, so 13 categories would share colours). */
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#000075', '#f032e6', '#469990'];

/** Listings placed on the same spot (a county centre) are spread by up to this many degrees, so their count shows. */
const SPREAD_DEGREES = 0.04;

export function locationMapFigure(points: readonly MapPoint[], title: string, groups?: readonly string[]): PlotlyFigure {
  const order = groups ?? [...new Set(points.map((p) => p.group))].sort();
  const meanLat = points.length ? points.reduce((s, p) => s + p.lat, 0) / points.length : 54;
  // A fixed, deterministic spread (golden-angle spiral by index), not random jitter.
  const spread = (i: number): [number, number] => {
    const r = SPREAD_DEGREES * Math.sqrt((i % 50) / 50);
    const a = i * 2.399963;
    return [r * Math.sin(a), r * Math.cos(a)];
  };
  return {
    data: order.map((group, g) => {
      const inGroup = points.map((p, i) => ({ p, i })).filter(({ p }) => p.group === group);
      return {
        type: 'scatter',
        mode: 'markers',
        name: group,
        x: inGroup.map(({ p, i }) => p.lng + spread(i)[1]),
        y: inGroup.map(({ p, i }) => p.lat + spread(i)[0]),
        text: inGroup.map(({ p }) => p.label ?? group),
        hoverinfo: 'text+name',
        marker: { size: 4, opacity: 0.6, color: PALETTE[g % PALETTE.length] },
      };
    }),
    layout: {
      title: { text: title },
      xaxis: { title: { text: 'longitude (°)' }, zeroline: false },
      // One degree of longitude is cos(latitude) of a degree of latitude on the ground.
      yaxis: { title: { text: 'latitude (°)' }, scaleanchor: 'x', scaleratio: 1 / Math.cos((meanLat * Math.PI) / 180), zeroline: false },
      legend: { itemsizing: 'constant' },
      height: 780,
      width: 900,
    },
  };
}
