"""Precision and recall of SIRA Guard's detections against the generator's labels."""
import json
import sqlite3
import sys

db, labels_path = sys.argv[1], sys.argv[2]
labels = json.load(open(labels_path))
truth = {(k, t) for t, keys in labels.items() for k in keys}
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
found = {(k, t) for k, t in con.execute("SELECT DISTINCT key_id, type FROM guard_events")}
tp, fp, fn = truth & found, found - truth, truth - found
print(f"  detections {len(found)}, true {len(tp)}, false {len(fp)}, missed {len(fn)}")
for t in sorted(labels):
    tt = {x for x in truth if x[1] == t}
    ft = {x for x in found if x[1] == t}
    p = len(tt & ft) / len(ft) if ft else 1.0
    r = len(tt & ft) / len(tt) if tt else 1.0
    print(f"  {t:22s} precision {p:5.3f}  recall {r:5.3f}")
precision = len(tp) / len(found) if found else 1.0
recall = len(tp) / len(truth) if truth else 1.0
print(f"  overall                precision {precision:5.3f}  recall {recall:5.3f}")
for x in sorted(fp)[:10]:
    print("  false positive:", x)
for x in sorted(fn)[:10]:
    print("  missed:", x)
