# reprint: 各画面の文言（日本語）。キーは ../en/main.ftl と共通です。

skip-to-content = 本文へ移動
nav-album = アルバム
nav-orders = ご注文
nav-log-in = ログイン
nav-log-out = ログアウト
footer-language = English

stage-placed = ご注文を受け付けました
stage-received = ラボが受け付けました
stage-printing = プリント中
stage-printed = プリント済み
stage-dispatched = 店舗へ発送しました
stage-ready_for_pickup = お受け取りいただけます
stage-collected = お受け取り済み
stage-settled = 完了
stage-rejected = ラボでお受けできませんでした
stage-cancelled = キャンセルされました

prints = { $count } 枚

nav-ops = 運用
nav-sign-up = 新規登録
nav-account = アカウント
language-switch = 言語

home-title = 写真をプリントに
home-lead = 写真をアップロードし、ラボとお近くの受け取り店を選ぶと、割引の内訳つきで料金がわかります。仕上がったら店頭でお受け取りください。
