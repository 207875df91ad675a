# インデックスプリント（seed 000, claims 2, 18）：ご注文の全部の写真を番号つきで1枚に。ご注文ごとに1枚。

index-print-choose = 全部の写真のインデックスプリントを追加（1枚に全部の写真、番号つき）
index-print-price = （1枚 { $price }）
index-print-line = 全部の写真のインデックスプリント { $count } 枚（{ $price }）
