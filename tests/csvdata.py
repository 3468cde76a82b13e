"""Small, valid import folders for tests, with hooks to break one cell."""

from __future__ import annotations

from pathlib import Path

GOOD = {
    "products.csv": (
        "sku,name,category,price,unit_cost,width_mm,height_mm,depth_mm,temperature\n"
        "COLA,Cola 330ml,soft drinks,1.80,0.60,66,115,66,chilled\n"
        "WATER,Water 500ml,water,1.20,0.20,65,205,65,chilled\n"
        "CHIPS,Crisps 45g,crisps,1.50,0.45,130,190,40,ambient\n"
        "CHOC,Chocolate bar,chocolate,1.40,0.50,70,150,15,ambient\n"
    ),
    "devices.csv": (
        "device_id,name,venue_type,cabinet_type,rows,columns,slot_width_mm,slot_height_mm,slot_depth_mm,capacity,"
        "service_interval_days\n"
        "D1,Office lobby,office,combo,2,3,80,210,560,8,7\n"
        "D2,Gym,gym,refrigerated,2,2,75,230,500,10,3\n"
    ),
    "slots.csv": "device_id,slot,width_mm,capacity,zone\nD1,A1,160,12,ambient\n",
    "planograms.csv": (
        "device_id,slot,sku,capacity\n"
        "D1,A1,CHIPS,12\nD1,A2,CHOC,8\nD1,B1,COLA,8\nD1,B2,WATER,8\n"
        "D2,A1,COLA,10\nD2,B1,WATER,10\n"
    ),
    "sales.csv": (
        "device_id,timestamp,slot,sku,price,transaction_id\n"
        "D1,2026-11-01T08:00:00Z,B1,COLA,1.80,T1\n"
        "D1,2026-11-01T08:00:20Z,A1,CHIPS,1.50,T1\n"
        "D1,2026-11-01,A2,CHOC,1.40,\n"
        "D1,2026-11-01,A2,CHOC,1.40,\n"
        "D2,2026-11-02 12:30:00,A1,COLA,1.80,\n"
    ),
}


def write_folder(folder: Path, overrides: dict[str, str] | None = None, only: tuple[str, ...] = ()) -> Path:
    """Write the good files (or just ``only``) with per-file text overrides; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {**GOOD, **(overrides or {})}
    for name, text in files.items():
        if not only or name in only:
            (folder / name).write_text(text)
    return folder
