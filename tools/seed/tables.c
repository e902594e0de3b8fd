/*
 * tables.c - the fixed vocabulary of onenet-seed: county-level division
 * codes, surnames, given-name characters, streets, employers, shelter
 * venues. Everything the generator picks from is here, so the build never
 * reads ../shared at run time.
 *
 * The divisions are the county-level (区/县/县级市) rows of the GB/T 2260
 * sample in /work/shared/reference/admin-divisions.tsv (public codes, 2023
 * edition), code and English name only. Regenerate with:
 *   awk -F'\t' '$2=="county"{printf "    { \"%s\", \"%s\" },\n", $1, $4}' admin-divisions.tsv
 */
#include "tables.h"

const seed_division_t seed_divisions[] = {
    { "510104", "Jinjiang" },
    { "510105", "Qingyang" },
    { "510106", "Jinniu" },
    { "510107", "Wuhou" },
    { "510108", "Chenghua" },
    { "510112", "Longquanyi" },
    { "510113", "Qingbaijiang" },
    { "510114", "Xindu" },
    { "510115", "Wenjiang" },
    { "510116", "Shuangliu" },
    { "510117", "Pidu" },
    { "510118", "Xinjin" },
    { "510121", "Jintang" },
    { "510129", "Dayi" },
    { "510131", "Pujiang" },
    { "510181", "Dujiangyan" },
    { "510182", "Pengzhou" },
    { "510183", "Qionglai" },
    { "510184", "Chongzhou" },
    { "510185", "Jianyang" },
    { "520102", "Nanming" },
    { "520103", "Yunyan" },
    { "520111", "Huaxi" },
    { "520112", "Wudang" },
    { "520113", "Baiyun" },
    { "520115", "Guanshanhu" },
    { "520121", "Kaiyang" },
    { "520122", "Xifeng" },
    { "520123", "Xiuwen" },
    { "520181", "Qingzhen" },
    { "310101", "Huangpu" },
    { "310104", "Xuhui" },
    { "310105", "Changning" },
    { "310106", "Jing'an" },
    { "310107", "Putuo" },
    { "310109", "Hongkou" },
    { "310110", "Yangpu" },
    { "310112", "Minhang" },
    { "310113", "Baoshan" },
    { "310115", "Pudong" },
    { "330102", "Shangcheng" },
    { "330105", "Gongshu" },
    { "330106", "Xihu" },
    { "330108", "Binjiang" },
    { "330109", "Xiaoshan" },
    { "330110", "Yuhang" },
    { "330111", "Fuyang" },
    { "330112", "Lin'an" },
    { "330113", "Linping" },
    { "330114", "Qiantang" },
};
const size_t seed_division_count = sizeof seed_divisions / sizeof seed_divisions[0];

/* The most common surnames, weighted roughly by how common they are
 * (per mille of the population). */
const seed_weighted_t seed_surnames[] = {
    { "王", 71 }, { "李", 70 }, { "张", 66 }, { "刘", 53 }, { "陈", 45 }, { "杨", 31 },
    { "黄", 22 }, { "赵", 22 }, { "吴", 20 }, { "周", 19 }, { "徐", 16 }, { "孙", 15 },
    { "马", 15 }, { "朱", 14 }, { "胡", 13 }, { "郭", 12 }, { "何", 12 }, { "高", 11 },
    { "林", 11 }, { "罗", 10 }, { "郑", 10 }, { "梁", 9 },  { "谢", 8 },  { "宋", 8 },
    { "唐", 7 },  { "许", 7 },  { "韩", 7 },  { "冯", 7 },  { "邓", 7 },  { "曹", 6 },
    { "彭", 6 },  { "曾", 6 },  { "肖", 6 },  { "田", 6 },  { "董", 5 },  { "袁", 5 },
    { "潘", 5 },  { "于", 5 },  { "蒋", 5 },  { "蔡", 5 },
};
const size_t seed_surname_count = sizeof seed_surnames / sizeof seed_surnames[0];

/* Given-name characters, by the sex they are mostly given to, and some
 * used for both. A given name is one or two of these. */
const char *const seed_given_male[] = {
    "伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "刚", "平", "辉",
    "建", "鹏", "浩", "宇", "轩", "睿", "博", "俊", "峰", "凯", "斌", "鑫", "毅",
};
const size_t seed_given_male_count = sizeof seed_given_male / sizeof seed_given_male[0];
const char *const seed_given_female[] = {
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "秀", "霞", "英", "玉", "兰", "红",
    "燕", "玲", "婷", "欣", "怡", "涵", "雪", "梅", "琳", "悦", "佳", "萍", "倩",
};
const size_t seed_given_female_count = sizeof seed_given_female / sizeof seed_given_female[0];
const char *const seed_given_any[] = {
    "文", "华", "子", "晨", "阳", "思", "雨", "嘉", "宁", "林", "安", "一", "新", "春",
};
const size_t seed_given_any_count = sizeof seed_given_any / sizeof seed_given_any[0];

/* Street names of the kind found in every Chinese city. */
const char *const seed_streets[] = {
    "人民路", "解放路", "建设路", "中山路", "和平街", "新华路", "长江路", "朝阳路",
    "光明街", "文化路", "学府路", "东风路", "青年路", "胜利路", "团结街", "幸福路",
    "滨江路", "公园路", "花园街", "春熙路", "府前街", "锦绣路", "迎宾大道", "科技路",
    "工业大道", "翠柳街", "梧桐路", "桂花巷", "银杏路", "南湖路",
};
const size_t seed_street_count = sizeof seed_streets / sizeof seed_streets[0];

/* Made-up employers: a trade name and a kind of business. */
const char *const seed_employer_names[] = {
    "恒远", "瑞丰", "嘉禾", "安泰", "锦程", "宏图", "联创", "永盛", "信诚", "青禾",
};
const size_t seed_employer_name_count = sizeof seed_employer_names / sizeof seed_employer_names[0];
const char *const seed_employer_kinds[] = {
    "科技有限公司", "物流有限公司", "建设工程有限公司", "食品有限公司", "商贸有限公司",
    "餐饮管理有限公司", "物业服务有限公司", "制造有限公司",
};
const size_t seed_employer_kind_count = sizeof seed_employer_kinds / sizeof seed_employer_kinds[0];

/* Kinds of place used as shelters. */
const char *const seed_venues[] = {
    "Middle School", "Primary School", "Stadium", "Community Centre", "Park", "Exhibition Hall",
};
const size_t seed_venue_count = sizeof seed_venues / sizeof seed_venues[0];
