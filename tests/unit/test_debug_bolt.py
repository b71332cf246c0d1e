"""pallet.debug.bolt against a real bbolt file (Podman 4.3.1's bolt_state.db, made on this
VM with a pod "shop" holding container "web", and a container "solo"), and the
containerd reader over meta.db files written to containerd's schema."""

import base64
import os
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import test_debug_layouts as layouts  # noqa: E402

from pallet.debug.bolt import BoltFile, Bucket  # noqa: E402
from pallet.debug.paths import HostPaths  # noqa: E402

WEB = "2f78fca28360e26d75117c2164cef5f1485d30ce01b7652fb22e666cff7283ce"
SOLO = "a40cb601670e4bcb43dc17a366dc87e31721707ed4efb797e9fa7c960987a320"
SHOP = "e9a1d3621b35160267e648311079a4272a5211f043a9cafd0ab17a447e127665"

PODMAN_4_3_BOLT_STATE = (
    "eNrtXctvJEla79fMzs7uzkNiQCwHRiWkPazLla/KrDJqaRq7Z8bafhjbM7M7q1YRlRlZleN8dUamH9uygBsHBMsJOO0BiT+AKyck"
    "JCQunLhwgTva257gwhfxRT6q2m53twt378z3k13xfRGR8cqIL76IzC/y2jXELe3+8j+++8sbknhv0b/GW9r9be2+o92f/9vf/fsv"
    "/rX/5jUCgUAgEAgEAoFAIBAIrx2uX7D+/9ZSfO197QPtfk+7W3/7vT/58f9Y/00tSiAQCAQCgUAgEAgEwuuHG417o9kP+BD+P9Jr"
    "fcn/UYe3Qm8U+swa2a7BLTfwhqbp+ZbpOj4Ph6HpjIaBbfjcMKeeO7TCqWVx13X9MPTgGp+/v5Q/cwx/6hqm6xncmfpTxw5802O2"
    "6wb+yOO26VmmZ3g8cHg49cYeH4fM88euMR5BLMv4gG4hgUAgEAgEAoFAIBAIF+Jms/6/2fgZ8C9f5P/z67j+/wf4eRtcocN/98a1"
    "a2+A+wP497M0jGZPelHQ2+jxMTMD27XMqT00XcNyPe46I9s0DW/MHMuz2NAyzdBwbDb2WRgYbAprfcfxuGl5rjvsrfVSlnBIScyz"
    "HLiYTXksehtPTtd6/qzIqnyHFTwtIcYgjqZ5Fkxy9IDwgrOSy2JYkHPfNPuWt2+ONixvw7bXTdd0xobjfQkxN1XMzSxJWArxf9qD"
    "dICEkH6/yDKZ2KBM8kEeTGf3559agxkGVemZoYUKFWVWsBnvB0V0yKVXBk7MToCC5Jvyqbiqkmt1Jfv9KA0LdjtkseC9R2u9u8dR"
    "uZPFkX8ClYEGLqO0kvHjzD/Y3uptGGu9XS6yqvD5vSiJStlAPT+vZDudnsoLWJTyQpy/53O9od/Tezs3V7C3c8SnooQ6PmnuVTmH"
    "GkDJt2UFN+uCyTr0eqc0+AgEAoFAIBAIBALhCnGrWROiJb9cGf7XNbTz/xfN/+I62gGUmn/7Bu4HfKj537uB68f6fYEf3MB06/Df"
    "B/7bHX4f+N/o8MfAfwfc39H7DX9xE+0Kav7vb2F4Hf+fbi3m98+38ByCsY7/v29geB3/nTfb61kc9/3yWWvjGw39YWdtLLGn+Vur"
    "WStf9tUHkcUZVGcnC15opS9Lf9mNGrlzAVl/nsVVwp+ROwLa+8ZSED/m/kWX8eOo7PtZwJ87Yr+MEt4XJUvyi66Jgn7BZ5Eoi5Pz"
    "oy5uiXW7gt9pTIm/fv26xirusdyoeuF2uqXbQiJY4v9Gt6HkZQaXLqQcA5dsLGjvy96yVDxHKyHyLHhjKaioUtVxcS/1/ARaWyzZ"
    "veWbVLXP8TWUyO9q/k91hm90wt/qhP+xjv+bmv9Lndb7ne4sJeZvwf+sYPlcb2uqnUu9sYn+ckd0abM0E3GUVsdQqzNCC7lDGPn9"
    "ICqWLtMbuuD5dCAwh0rW9HNWzpcvxCABzkWNrxN59gRAIBAIBAKB8LXGG0srxeudleJ7K1gp3qQmJhAIBAKBQCAQCAQC4ZXjzWb9"
    "/+tp//9tuoUEAoFAIBAIBAKBQCBciG816396/7+7D3LtGr3/v8L3/5e/C0nv/9P7//T+vwa9/0/v/xMIBAKBQCBcFd5qVodvK/fN"
    "pX2B+vn629r9jna/q936+3/vaPfdzmqTQCAQCAQCgUAgEAgEwuuBen0vH+LVj/Hq8/9/9UN8fv79NVzvf6jD3TV8svRnt9rz/0XO"
    "fXkMfeZHn/NCRFna2+iZ68a61Q/4oTwEv8h8LtRR9ZXghXLlRwOMtd5MuadrPVbMhDyPX8Scy5PxTcMw5IH4PD2U3vt3d+/fPi55"
    "kcjj9OvT5G83p/fv3Nn/9PagEsUgznwWD8Q0Sjc6fMO2AYpAFn5kXv6R/ITAQObAcjaN4qiMuCr2NKvSIEpnsiibd3Ymdz7b2t6f"
    "fLG7vX9XflQAfDY/ffjFA01v3dmcPPz87u7u9lYd/DGE3t2tmb27+9tbmvnR9r17mrz/owcPa+8Hd/cnf7D9YGuyd3f38+3Nux3v"
    "3TtfaA7S+RjclvukSRaYnYWgz9qgn+xBcXcfPtxXDRyG3C+jQ/41rFsO/SUq1ZchvmZ1gxFTxPoDED990itPcvnpjN172/ehfg8e"
    "frx9T+Y8ZwVU3YKhBENNZGGpmdO1py7Z2X242VxhW547qq9QzKnKUX4CA0ZDjh93kGwoehCQwPDQJQm4KKOUlSgFBnLoQ7I6M83h"
    "9ytaPstldDX800xI0bAGhHxPRBFSiDySRV5KG4WLTrpMcihLJ+3a45mJi7KIfPlUWn2UI4GsbntD+S0SEf2M33aHQ9s9OC/vQV6K"
    "Nn/wQL4pQOPz7OrxoygVJUt9WYK8TI5VKQzXdesSGa5l9JSovD08tzDJ44qrL4Xo8jR8U57G5yWbW5x0qgvMYnPXHs+RuOxI5+Uw"
    "CMUAvyDS5tXwTWaNTye3Ii+iQ/zKyjMy5nF9s1UZQEawNM1KppN50ouy9YNqyouUl1ys+0XUz9b3938CmeI3WtZkDJx21juXrrOq"
    "zAqeZFKO9j6+c2/v7rlRozQqL4wkaxPFfKa+anNB1GoaR2LeZ3HcxIVBqd7EkFUq9AdjVP2gHSJFwliFC7Kj3oaqGDSEj5N0rzhK"
    "erJl8ihQlyg5IyWHMzo9xc/0iJzVidRDGxq8I1ag+Y6y4qDrFeV+l61K0WWVCFHZCu77WZJjYUNWxeUdX/eQvc37IMM39ycgox88"
    "hAbREe4WRZrtcimsRlKV8OdRCZNaVagy6st2Nz+d/HjkTlwHLlzwWuRtS04d0BdBb4ixjqrKMqVpEMaVmKtbMcln0EcOeaoG+YHs"
    "aZMQbtkkzljQ+GgmiWYFdM5JzmZcqIF92DJpKEAtOvTLWDKRkgRZHITyfRkk45aEv0p/RAjI1r/2zP0IFbNJlE2ZWPQquCpN63FU"
    "RGrICKhLwsSBJEVLHrFcKlv8uNRcFoY1JdWuetSDWhdHUyQKdUvCQHFYvMNENbJ0oKSKEnksKyoH4Ll3lze31ZQ9pbkLE7gvnMsC"
    "TkB8QtZwr3vYgfOWcHpNnwYi+EqO+2NJxkxpkaD0yaJMiwNU+KAFkBBIzIOoUG6C33CaZ0dp7UIfAUp+lGmiU17mVS9DH0i4UPe5"
    "y06ejrSQjOY7MVIGck1rx0s+C4mlvHZtJASv3UnB0hlHDTrFRvOz/AS7bRMmP1Ylx5aSsPBroSNT43kWx5Pmc1Zd1mx51Y8beoK3"
    "HPn8iEXlImc17EKYZOpL5SALO5S6BEbXIW8IVWT5Nqh2JvUUEWIfUOENbSkmOIwENltDTzQby2WDqmMIjVxG4ckkYaqnhHXHCOue"
    "gQRmUPeSsO0mSOrgVLWNcjEnuI6Jk1ROUiHc82NWlipxkOgdBu62dDMsAc4zTajAsazITgoCRaqkspyrQok8woT0uFQulkNSXVoN"
    "a01pX13KsqjSum1qGmNUpRpgym27JLBA4g2AGk4SnuT4hTPki2wKcmIiK6x9yrmUUxMGv+gjP3CGxFGARKDFbk2qnKQ8nkVBS6n2"
    "l3TV+FatbxO1E1P1GtGl65BI1qJAOuegIKC4lVyTUD4rck01Xi1VRBlIW11tGG1BlmiaiyYJpOtMgas6IZ3Co/av6UqwmS6MqKML"
    "6DNtGSWX5Tp+WceRVcqgC+oyNVl18qm7U6RHAQsCGJqlP+/4KYVmkTU7fJG0V2QTX6q6MdJS/yuyE2S6symw0JXV+JVkNcW6RhnK"
    "liiTjTlBia0ZlNpSyZBT7wlGPIjiWH1LMA20cA4mRRXzrh+KL+WNaTQhBcf1AaQdy2kvrkd33I7uuNNGoHEdaEf1dtml1cDrDuZ4"
    "gVkcyvW0FnfGcT31x81YTVBYSUrPYTCkpqwoItU/gQmDVkYjC0pVoSqXRKkPiqqkDlCOKVdlkRykSqApF3205FGuVRNMNWqSsFw7"
    "KkRLG+XKu6HLrzSdJhBWfCVOPMljef868R5PsL8grUUWULKTBgX3eaTE/ZJPK2fqAMGxTTrsQqQq1fcpgcbHKogZdhcgsE8BUfiH"
    "SAhMTou/BC7XbYKUbowqxbTkkJuU2WQuOxGfqFbsztygsGhZq5YvqpLSmcD45ppuwnCiylmFalwUwJ2EAqqpEDmdAjKqqiKapSxW"
    "fjnXjkolOsyksFVfscxhhEzUJFczIWav6M5dklOxdLpu25p5ge2WS3mtfYA6bAiVMYoqHax2AifQ9DHXyqn2Okwm7bWNl9JPlR+q"
    "eW6H7JQDxCmun1V89GsvRcpS6z+l/0qHzVsaB4KkdNeoSXUn6mIVfIqtB13vUDthoYS4JBPoKx2yLZ3y0WHQSVDbqnX/RQFQcC2y"
    "kdDZI4nlh75TwPDC1Yn0SXThBX8snVJ2AK1S1yz0EbV52fDQvlrDRw+1MxClYdb4gLCoijYFUYkchxXyamRpdW3Jp1NvoGdLqQt/"
    "zlUfntTTIehVx+cERGk3gIWhnFlOFvyw2Ro+ZwVLuh6KAMnexioKlUsEq5riUA2UM/3bamCwOKMAYqkAYrkA4qwCnERcabX1OldS"
    "egUjeIIDCggUREBkGCVRLbzEdEqJt0c6sn91yCZYd1BFNlSp7sqSWiaeUsvEU2qZ8okCOaUWuMYCn1ArMjWppkjFVK1/1fo3sTtx"
    "GxVMLKhgoqOCAZ3qGHmTREe/ElJbagIK3km90bXEgq4lOrqWWNC1FNcJ6PrXOpio9S7R1bRErVGJVqPqTOxinqjxDa6+6fMk0B76"
    "5s+rMkCNozuoJR2XIAjUNNTIeyTU3FCTDtLt+F8c/N1xvjDIZR1A2UYJg0zOlJjRy3a5c4qFr5WSZs3QWTJIUo3tk0TLVU3hpTih"
    "SmdxASp9MKlGygFVC5ATEWeyKqWar8qZVvH04ln1kFb5QTaA8dVhoXGlHRMsXbpeCwl0V9/oI5ZiiOUYquE1tVQAnLW7l7c+3QSW"
    "M2l9mlhqC7aucrsQW1iHVd3lQaXvdVWrYEjIvljvGDUKERLq5lSpmDOlJla6RMpNcRnX0K38qerSHepVqpwLHO2qUSAJXAzVm056"
    "hj5zD+jOvXsPv+gtbPvkvBAZ9Gs5xp9xTfMs8QmsQAJYkcrnjCDRK64okKD6Evl/9w97p49WncvoSnIxbdPwrCvLanQ1bedYY2fs"
    "etZ4eHF2cqN3gjro8/ahJAvkkjQGQfu8lyjtfHrS0ehfatNymofd3SS9Zo6z7KDKJ4EPbqQ0WBj2E7UOrnX7x1UGol6rBTAfJCxK"
    "66/I83KeibLlYFZ8qcL5c7UweN4mQYEKq7oA19JKL2rZRQ7Uv+KkZl+qdMz3X7LRD3ylYDXLDr1yfqm0oizH1w+AiF+ymdW2glja"
    "6u3KeLG4KSNUxJfK6xD666zKX+5inPOf2R/kA2E5t/Bgh5VzdZV62jtgfh5B0sgc6M0GzXH1DBGZGOar1D+ZSC2h9cXZVWudXa/F"
    "aKhKB3xazTp+QmWsHiNGRXKEE1j9WFE+opBPxLSPfGg6VUv5R7jEy9L4ZLkqQr730WQACnFDhy0ZFY/bMnQqCHTxuF8W0WwGWusj"
    "+exMvu3Su6zRut5lkA9dszhTQsQ/2N7qbcBksKkUj80sSUBaKZFcvyHT7+u1/5IJNQZV6ZmhhQoVZVbAclUbgsu9CTQDl2s8pUT1"
    "gzqV+uFqpXS7fj9VimyKDyX6/VpSNeVmsRRgg+l0A7KUIUuv/+yyo+0E8n6AFT7jiii4z/Ic1FvxMG+e4n4KUT7b3tIhvQ3Qj/ia"
    "8v3kKV+M19tIqzhe632ywN2pyuwzwYsHonlM2no9lI/3IbO96GeoWmyD3ItY3PA7TIij4GO5HNvoQVE/kauZlr0TBJEsMYvbooom"
    "5ybwk+VA2ZG2uFTVYfyoF5TwEnwfQzWX7A09h1nm0PMMZjqhG7rGdAg/XjDy/dA1R/44GA/HFoSy0djx7MAIQy9ww+Ew8HwjGHKj"
    "t5Dk+Xdgb55sweJgY7lnDXQ36Tfva4nBZfv+QD5glM9MBrBKwrUSNrd6VwPfc1GnDFx9iXqd92Cuvike6Qd3/AtQv6GvqPpjB8e9"
    "X7GDb+1cbckwazWTKRmCYwb7a66GR13K7gsPeqjFbMrjLMcWDSLBpqhBYEUf8PLBXhMXhqTqprschMvhZpaGTwXJ4d+OY7+VkctC"
    "B8qa7+GyesMcIr8vZ+VKTpRGXYBA+kGLWobl9k2zb3n75mjD8jZse91xzNHYGtvDL+U0r7Yx7rOUyYmgfn1FzSBIivtZIFPiqaxi"
    "0PjvwAyWyndF9AEZkxw9pOicvYr76ZfFOi6/4XefzVCQAd3IPKC3cJrY6B2MRF9vRkFpkizdiWppuDTN/D+XWmW+jovPHHrBpnpg"
    "WhVLfaievzbq+Qt33uvgSOzxQr490/iIALV5ffuawssX6TiLyzloKaBg6P7e8Zpk6SRkUQxFmNQallEv1jd6hmHhln2gdkauur3k"
    "0wS8bUqg3YnjrfqtIVXx06Az+5z3dnF9mIoUx/yJkspcqSj4tPqV9F6V8/pXAvfGq/SsSaK4kkmCN3JPsTtZhOP87OYY2EMnYOHQ"
    "DsdT2zaA4MzxjfFQnkQ0Cixu2p7PPcczjBELplPTG7m2Y9tjw/Y8ywi9AWjQMyVY1PODRnSBwDP76m/fMDbU35d6PSfmF8WS42kD"
    "VAejM7ylh2vgyzX39Wz4BN9QlLPUK9ERBrz0B806+YrHUmd93pRDvIpCqHUJ9PnBepOFerf+akuymDkoso1IBRGBpDzUTiu68m0r"
    "kJa5HB0X9Ub5aAzWms+MdUpGHwQCgUAgEAgEAoFA+Mbhex37/xsvaP//j9fJ/p/s/8n+n+z/yf6f7P/J/p/s/8n+n+z/yf6f7P/J"
    "/p/s/8n+n+z/yf6f7P/J/p/s/8n+n+z/yf6f7P/J/p/s/8n+n+z/yf6f7P/J/p/s/8n+n+z/yf6f7P/J/p/s/8n+n+z/yf6f7P/J"
    "/v/rbv9vkt39pe3uyWSasAq817hvLozYW9p9a8lO4B3tvktNRyAQCAQCgUAgEAgEwq8N3tfuDVjx39T0R9fQ/v8/19D+/4P+ov2/"
    "2cfwjzQ/6+N5AD+/dbXnAVze3n/tgjMF6DwAOg+AzgOg8wDoPAA6D2DpPIDNeq7Y1wXqPPc7K/4eS4NpdqxeyuBjZga2a5lTe2i6"
    "huV63HVGtmka3pg5lmexoWWaoeHYbOyzMDDY1PSY43jchHHnDs/Jgo4ooCMK6IgCOqKAjiigIwroiAI6ooCOKKAjCuiIAjqigI4o"
    "oCMK6IgCOqKAjiigIwroiAI6ooCOKKAjCuiIAjqigI4ooCMK6IgCOqLgnCMKrNAbhT6zRrZrcMsNvKFper5luo7Pw2FoOqNhYBs+"
    "N8yp5w6tcGpZ0iTOD0MPrlHalz6i4IhP1Ro9WM2zz/qoA/O1P+ogV/tUYq6WQ83JB9gcV3fwgX5wunzyQW0ZTUcfXN3RB5cdU6s/"
    "+mBlJXrRow9W2xSrPPpghSX7ph59YJlj1/KMofU6HH2wuvt5lUcfrLDU34ijD1bXXis9+gC6bT8KLqv1LB6gYKsOBbfwlYwBlfP6"
    "VwJ37l/gIIeVTzUveJDD2Ag8PhyGlm+NR+bUGDKHDR0/DIYs8F3T4b7lMIcz1x85LDQge3vojZhjmyN3HBrBeQc5nCUA7RFcOxw9"
    "/4EOcnRujB173BEW0sMa4ytA9/Xc+gRf7ZRz3ivROAa89AfNav6KR2ZnF6Eph3gVhVCrJ+j7g/UmC2WUcLUlWcz8lE4FIRAIBAKB"
    "QCAQCATCefig2a662dj/G9r+/1c/RPv/768t2v+7a2jv/1dXbO//bFv9tRWcB0D2/mTvT/b+ZO9P9v5k70/G9WRcT8b1ZFxPxvVk"
    "XE/G9WRcT8b1ZFxPxvVkXE/G9WRcT8b1ZFxPxvVkXE/G9WRcT8b1ZFxPxvVkXE/G9WRcT8b1ZFz/fMb1l/2obWtcL7I46xjFW6+9"
    "UXwtqZpyX5EZPFqKLVvBoy8ZwV+hEfxqP3q/CiP4lX9i+nmN4FfbFKs0gl9hyb6pRvCOY47G1tgevg5G8Ku7n1dpBL/CUn8jjOBX"
    "114rNYK/tPn6SvvBS5qvr3ySeEHzdXvoBCwc2uF4atsGEJw5vjEeSuPgUWBx0/Z87jmeYYxYMJ2a3si1HdseG7bnWUbovYj5+nBs"
    "jyGT8Qvbr3vGkv26a1zOfn3VysJL2K+vrgiXsF9fbSEuY7++upKQ/TqBQCAQCAQCgUAgEAhXgv8DH7HwUQ=="
)


@pytest.fixture
def podman_bolt(tmp_path) -> str:
    path = tmp_path / "bolt_state.db"
    path.write_bytes(zlib.decompress(base64.b64decode("".join(PODMAN_4_3_BOLT_STATE))))
    return str(path)


def test_real_podman_bolt_file(podman_bolt):
    db = BoltFile(podman_bolt)
    assert db.page_size == 4096
    root = db.bucket()
    names = {k.decode() for k, _ in root.buckets()}
    assert {"ctr", "pod", "all-ctrs", "name-registry", "runtime-config"} <= names
    assert root.bucket("name-registry").get("web") == WEB.encode()
    assert dict(root.bucket("all-ctrs").items()) == {WEB.encode(): b"web", SOLO.encode(): b"solo"}
    web = root.bucket("ctr").bucket(WEB)
    assert isinstance(web.get("dependencies"), Bucket) and web.get("pod-id") == SHOP.encode()
    assert root.bucket("pod").bucket(SHOP).bucket("containers").get(WEB) == b"web"


def test_podman_reader_uses_bolt_state(podman_bolt, tmp_path):
    from pallet.debug.sources import podman

    paths = HostPaths(root=str(tmp_path / "node"))
    os.makedirs(f"{paths.storage_root}/libpod")
    os.rename(podman_bolt, f"{paths.storage_root}/libpod/bolt_state.db")
    loaded = podman.load(paths)
    by_id = {r.id: r for r in loaded.records}
    assert loaded.problems == ()
    assert (by_id[WEB].name, by_id[WEB].pod_name, by_id[WEB].image) == ("web", "shop", "localhost/bb:dbg")
    assert by_id[WEB].pid == 9439 and by_id[SOLO].pod_name == ""


def test_not_a_bolt_file(tmp_path):
    (tmp_path / "x.db").write_bytes(b"\0" * 8192)
    with pytest.raises(ValueError):
        BoltFile(str(tmp_path / "x.db"))


def test_writer_round_trip_with_inline_and_overflow(tmp_path):
    big = b"v" * 10000   # spans three pages
    data = layouts.bolt_bytes({"a": {"k": b"1", "in": {"x": b"y"}}, "big": {"v": big}}, inline=frozenset({b"in"}))
    (tmp_path / "t.db").write_bytes(data)
    db = BoltFile(str(tmp_path / "t.db"))
    assert db.bucket("a").get("k") == b"1"
    assert db.bucket("a", "in").inline is not None and db.bucket("a", "in").get("x") == b"y"
    assert db.bucket("big").get("v") == big


CID = layouts.CID
SID = layouts.SID
UID = layouts.UID


def test_containerd_meta_db_names_stopped_and_running_containers(tmp_path):
    from pallet.debug.sources import containerd

    paths = HostPaths(root=str(tmp_path / "node"))
    k8s = {"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop", "io.kubernetes.pod.uid": UID,
           "io.kubernetes.container.name": "nginx", "io.cri-containerd.kind": "container"}
    layouts.containerd_meta(paths, {
        ("k8s.io", CID): {"image": "docker.io/library/nginx:1.25", "labels": k8s, "snapshotKey": CID},
        ("k8s.io", SID): {"image": "registry.k8s.io/pause:3.9",
                          "labels": {**k8s, "io.kubernetes.container.name": "POD", "io.cri-containerd.kind": "sandbox"}},
        ("default", "3" * 64): {"image": "docker.io/library/redis:7", "labels": {"nerdctl/name": "cache"},
                                "snapshotKey": "3" * 64},
    }, snapshots={("k8s.io", CID): 17})
    # only the nginx container runs: its task bundle adds the pid
    layouts.containerd_task(paths, CID, pid=55, annotations=layouts.cri_annotations(
        kind="container", pod="web-0", namespace="shop", uid=UID, sandbox_id=SID, container="nginx"))
    loaded = containerd.load(paths)
    assert loaded.problems == ()
    by_id = {r.id: r for r in loaded.records}
    nginx = by_id[CID]
    assert (nginx.name, nginx.image, nginx.pid, nginx.kind, nginx.namespace) == (
        "nginx", "docker.io/library/nginx:1.25", 55, "container", "k8s.io")
    assert (nginx.pod_name, nginx.pod_namespace, nginx.pod_uid) == ("web-0", "shop", UID)
    assert nginx.upper_dir.endswith("io.containerd.snapshotter.v1.overlayfs/snapshots/17/fs")
    assert by_id[SID].kind == "sandbox" and by_id[SID].pid == 0
    cache = by_id["3" * 64]
    assert (cache.name, cache.namespace, cache.pid) == ("cache", "default", 0) and cache.upper_dir


def test_containerd_corrupt_meta_db_falls_back_to_tasks(tmp_path):
    from pallet.debug.sources import containerd

    paths = HostPaths(root=str(tmp_path / "node"))
    db = paths.at("/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db")
    os.makedirs(os.path.dirname(db))
    Path(db).write_bytes(b"garbage" * 1000)
    layouts.containerd_task(paths, CID, pid=9, annotations={"io.kubernetes.cri.container-name": "x"})
    loaded = containerd.load(paths)
    assert [r.name for r in loaded.records] == ["x"] and "meta.db" in loaded.problems[0]
