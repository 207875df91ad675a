# 写真の転送（seed 000, claims 5, 6, 15 f-g）：ご注文の写真を、アップロードし直さずに別のラボやプリンターのある店へ。

send-on-title = この写真を別の店でプリント
send-on-lead = このご注文の写真を別の場所でプリントできます：別のラボ（別のサイズや商品）、同じラボでもう一度、または自店にプリンターのあるお店。写真をアップロードし直す必要はなく、プリント履歴も一緒に送られます。
send-on-not-placed = 送信済みのご注文だけを別の店に送れます。
send-on-back = ご注文に戻る
send-on-where = 写真をどこに送りますか？
send-on-nowhere = いまプリントできるラボやお店につながりません。しばらくしてからもう一度お試しください。
send-on-lab = ラボ
send-on-lab-first = ラボ（このご注文をプリントしたラボ）
send-on-counter = プリンターのあるお店（{ $lab } が受け付け、このお店でプリント）
send-on-prints = プリントできるサイズ：{ $sizes }
send-on-has-index = インデックスプリント（全部の写真に番号をつけて1枚に）もできます
send-on-choose-site = 写真を選ぶ
send-on-photos = { $site } でプリントする写真
send-on-pick = { $name } を送る
send-on-size = サイズ
send-on-copies = 枚数
send-on-index = 全部の写真のインデックスプリントを追加
send-on-index-what = （ご注文ごとに1枚、写真に番号つき）
send-on-see-price = 料金を見る
send-on-quote = 料金と受け取り
send-on-confirm = 写真を送って注文する
send-on-no-quote = この内容では注文できません：{ $reason }
send-on-none-picked = 写真を1枚以上選んでください
send-on-sent-from = 次のご注文から転送：
send-on-reordered-from = 次のご注文の再注文：
