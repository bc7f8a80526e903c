import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';
import { html } from './util.js';

/**
 * One live time-series chart (uPlot): `t` in ms since the epoch, `series` [{label, values,
 * stroke}]. The plot is made once and fed with setData; its width follows its box.
 */
export function Chart({ title, t, series, unit, id }) {
  const box = useRef(null);
  const plot = useRef(null);
  const data = [(t ?? []).map((x) => x / 1000), ...series.map((s) => s.values ?? [])];

  useEffect(() => {
    const el = box.current;
    const width = Math.max(200, el.clientWidth);
    plot.current = new uPlot(
      {
        width,
        height: 160,
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [{ stroke: '#44515f', grid: { stroke: '#e3e8ee' } }, { stroke: '#44515f', grid: { stroke: '#e3e8ee' }, size: 60, values: (_u, vals) => vals.map((v) => `${+v.toFixed(2)}`) }],
        series: [{}, ...series.map((s) => ({ label: `${s.label}${unit ? ` (${unit})` : ''}`, stroke: s.stroke ?? '#1f6feb', width: 1.5, spanGaps: false }))],
      },
      data,
      el,
    );
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: 160 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return html`<figure class="chart" id=${id}>
    <figcaption>${title}</figcaption>
    <div ref=${box} class="chart-box"></div>
  </figure>`;
}
